"""Glue between the patient's cookie and their server-side draft (the only Flask-aware draft code)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import current_app, session
from sqlalchemy.orm import defer, joinedload
from sqlalchemy.orm.interfaces import ORMOption

from app.extensions import db
from app.intake.drafts import find_draft, save_answers, start_draft, touch
from app.intake.emergency_count import count_emergency_screen
from app.models import Draft, Screening, utcnow
from app.screening.rules import emergency_flags

SESSION_KEY = "draft"
# The reference of the request sent from this browser session, kept in the signed session cookie so the
# confirmation can still reassure after the draft has expired. A reference says nothing about the patient.
SENT_KEY = "sent"


class DraftExpired(Exception):
    """The cookie names a draft that no longer exists: it expired or was removed."""


def now() -> datetime:
    """The current UTC time (one place, so tests can reason about it)."""
    return utcnow()


# What is loaded with the draft, by what the page reads: each lazy load is another query on the request's path.
# Question pages read only the answers: the encrypted contact details are not loaded or decrypted for them.
ANSWERS_ONLY: tuple[ORMOption, ...] = (defer(Draft.contact),)
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


def remember_sent(reference: str) -> None:
    """Note in this browser session that its request was sent, under ``reference``."""
    session[SENT_KEY] = reference


def sent_reference() -> str | None:
    """The reference of the request this browser session sent, if it sent one."""
    value = session.get(SENT_KEY)
    return value if isinstance(value, str) else None


def start_over() -> None:
    """Forget this browser session's draft and sent request, for a new self-check (the stored request stays).

    The draft row is deleted at once rather than left to expire. The caller commits.
    """
    token = session.pop(SESSION_KEY, None)
    session.pop(SENT_KEY, None)
    draft = find_draft(db.session, token, now(), current_app.config["DRAFT_IDLE_TIMEOUT"]) if token else None
    if draft is not None:
        db.session.delete(draft)


def save_page(draft: Draft | None, page_answers: dict[str, Any]) -> Draft:
    """Save one page's answers into the patient's draft, made (its token put in the cookie) on the first answer.

    Safety answers that newly call for emergency care add one to the day's anonymous count. The caller commits.
    """
    was_emergency = draft is not None and _emergency(draft.answers)
    if draft is None:
        token, draft = start_draft(db.session, now())
        session[SESSION_KEY] = token
    save_answers(draft, page_answers, now())
    if not was_emergency and _emergency(draft.answers):
        count_emergency_screen(db.session, now().astimezone(current_app.extensions["clinic"].timezone).date())
    return draft


def _emergency(answers: dict[str, Any]) -> bool:
    return emergency_flags(list(answers.get("red_flags") or ()))
