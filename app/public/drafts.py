"""Glue between the patient's cookie and their server-side draft (the only Flask-aware draft code)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from flask import current_app, session
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.interfaces import ORMOption

from app.database import draft_save_durability
from app.drafts import (
    ReadyToSend,
    answers_for_saving,
    find_answers,
    find_draft,
    find_ready_to_send,
    save_answers,
    save_page_answers,
    start_draft,
    touch,
)
from app.extensions import db
from app.models import Draft, Screening, utcnow

SESSION_KEY = "draft"


class DraftExpired(Exception):
    """The cookie names a draft that no longer exists: it expired or was removed."""


def now() -> datetime:
    """The current UTC time (one place, so tests can reason about it)."""
    return utcnow()


# What is loaded with the draft, by what the page reads: each lazy load is another query on the request's path.
# (Question pages load no Draft object at all: current_answers, answers_before_saving and save_page.)
# The result and request pages read the screening and whether it has a request: one query with both joined.
WITH_RESULT: tuple[ORMOption, ...] = (joinedload(Draft.screening).joinedload(Screening.request),)


def current_draft(options: Sequence[ORMOption] = ()) -> Draft | None:
    """The patient's live draft, loaded with ``options``; DraftExpired if their cookie names one that has gone."""
    token = session.get(SESSION_KEY)
    if token is None:
        return None
    draft = find_draft(db.session, token, now(), current_app.config["DRAFT_IDLE_TIMEOUT"], options)
    if draft is None:
        session.pop(SESSION_KEY, None)
        db.session.commit()  # persist the removal of an expired draft
        raise DraftExpired
    touch(draft, now())
    return draft


def draft_ready_to_send() -> ReadyToSend | None:
    """The patient's live draft with its result, read for a send; None: take ``current_draft``'s path instead.

    That path also covers what this read leaves to it: no draft, no result yet, an expired draft.
    """
    token = session.get(SESSION_KEY)
    return find_ready_to_send(db.engine, token, now(), current_app.config["DRAFT_IDLE_TIMEOUT"])


def current_answers() -> dict[str, Any] | None:
    """The answers of the patient's live draft (None without one); raise DraftExpired as ``current_draft`` does.

    For pages that only show answers: no Draft object is loaded.
    """
    return _cookie_draft_answers(find_answers)


def commit_if_written() -> None:
    """Commit this request's database session if it began a transaction; a page view mostly has none to end.

    Asks the scoped session's registry first, so a request that never used the session does not make one.
    """
    if db.session.registry.has() and db.session().in_transaction():
        db.session.commit()


def answers_before_saving() -> dict[str, Any] | None:
    """The answers of the patient's live draft before a page saves into it (None without a draft).

    Raises DraftExpired as ``current_answers`` does. Writes nothing for a live draft: the save that follows
    begins the transaction (``save_page``).
    """
    return _cookie_draft_answers(answers_for_saving)


def _cookie_draft_answers(read: Callable[..., dict[str, Any] | None]) -> dict[str, Any] | None:
    """``read`` (``find_answers`` or ``answers_for_saving``) for the draft in the cookie; DraftExpired if it went."""
    token = session.get(SESSION_KEY)
    if token is None:
        return None
    answers = read(db.session, token, now(), current_app.config["DRAFT_IDLE_TIMEOUT"], engine=db.engine)
    if answers is None:
        session.pop(SESSION_KEY, None)
        db.session.commit()  # persist the removal of an expired draft
        raise DraftExpired
    return answers


def save_page(before: dict[str, Any] | None, page_answers: dict[str, Any]) -> dict[str, Any]:
    """Save one page's answers into the patient's draft, made (its token put in the cookie) on the first answer.

    ``before``: the draft's answers as ``answers_before_saving`` read them (None: there is no draft yet).
    Returns every answer after the save. A new draft is added to the session (the caller commits); a save into
    an existing one is its own committed UPDATE (``save_page_answers``). Either saves the draft and nothing
    else, so it needs no fsync (``draft_save_durability``). DraftExpired if the draft went in the meantime.
    """
    token = session.get(SESSION_KEY)
    if before is None or token is None:
        draft_save_durability(db.session)
        token, draft = start_draft(db.session, now())
        save_answers(draft, page_answers, now())
        session[SESSION_KEY] = token
        return dict(draft.answers)
    merged = save_page_answers(db.engine, token, before, page_answers, now())  # committed already
    if merged is None:
        session.pop(SESSION_KEY, None)
        raise DraftExpired
    return merged
