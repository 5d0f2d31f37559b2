"""Glue between the patient's cookie and their server-side draft (the only Flask-aware draft code)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, session

from app.drafts import find_answers, find_draft, start_draft, touch
from app.extensions import db
from app.models import Draft, utcnow

SESSION_KEY = "draft"


class DraftExpired(Exception):
    """The cookie names a draft that no longer exists: it expired or was removed."""


def now() -> datetime:
    """The current UTC time (one place, so tests can reason about it)."""
    return utcnow()


def current_draft() -> Draft | None:
    """The patient's live draft; raise DraftExpired if their cookie names one that has gone."""
    token = session.get(SESSION_KEY)
    if token is None:
        return None
    draft = find_draft(db.session, token, now(), current_app.config["DRAFT_IDLE_TIMEOUT"])
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
    answers = find_answers(db.session, token, now(), current_app.config["DRAFT_IDLE_TIMEOUT"])
    if answers is None:
        session.pop(SESSION_KEY, None)
        db.session.commit()  # persist the removal of an expired draft
        raise DraftExpired
    return answers


def draft_for_saving() -> Draft:
    """The patient's draft, created (and its token put in the cookie) on their first answer."""
    draft = current_draft()
    if draft is None:
        token, draft = start_draft(db.session, now())
        session[SESSION_KEY] = token
    return draft
