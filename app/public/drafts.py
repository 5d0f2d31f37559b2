"""Glue between the patient's cookie and their server-side draft (the only Flask-aware draft code)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import current_app, session
from sqlalchemy.orm import defer, joinedload
from sqlalchemy.orm.interfaces import ORMOption

from app.drafts import find_answers, find_draft, start_draft, touch
from app.extensions import db
from app.models import Draft, Screening, utcnow

SESSION_KEY = "draft"


class DraftExpired(Exception):
    """The cookie names a draft that no longer exists: it expired or was removed."""


def now() -> datetime:
    """The current UTC time (one place, so tests can reason about it)."""
    return utcnow()


# What is loaded with the draft, by what the page reads: each lazy load is another query on the request's path.
# A questionnaire POST reads and writes answers only: the contact details (decrypted on load) wait until read.
FOR_ANSWERS: tuple[ORMOption, ...] = (defer(Draft.contact),)
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


def current_answers() -> dict[str, Any] | None:
    """The answers of the patient's live draft (None without one); raise DraftExpired as ``current_draft`` does.

    For pages that only show answers: no Draft object is loaded.
    """
    token = session.get(SESSION_KEY)
    if token is None:
        return None
    answers = find_answers(db.session, token, now(), current_app.config["DRAFT_IDLE_TIMEOUT"], engine=db.engine)
    if answers is None:
        session.pop(SESSION_KEY, None)
        db.session.commit()  # persist the removal of an expired draft
        raise DraftExpired
    return answers


def commit_if_written() -> None:
    """Commit this request's database session if it began a transaction; a page view mostly has none to end.

    Asks the scoped session's registry first, so a request that never used the session does not make one.
    """
    if db.session.registry.has() and db.session().in_transaction():
        db.session.commit()


def draft_for_saving() -> Draft:
    """The patient's draft, created (and its token put in the cookie) on their first answer."""
    draft = current_draft(FOR_ANSWERS)
    if draft is None:
        token, draft = start_draft(db.session, now())
        session[SESSION_KEY] = token
    return draft
