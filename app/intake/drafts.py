"""Answers in progress, held on the server and found by an unguessable token in the patient's cookie.

The cookie carries only the token; the database stores only the token's SHA-256. A draft expires after
a period without activity. Functions take the SQLAlchemy session explicitly and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption

from app.models import Draft
from app.screening.questions import drop_inapplicable

TOKEN_BYTES = 32  # 256 bits: not guessable, not enumerable
# Activity is recorded at most this often on pages that only read, so each page view does not write.
TOUCH_EVERY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """The key a token is stored under."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_draft(session: Session, now: datetime) -> tuple[str, Draft]:
    """Create an empty draft; return the token for the cookie and the new row."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    draft = Draft(token_hash=hash_token(token), answers={}, contact={}, created_at=now, updated_at=now)
    session.add(draft)
    return token, draft


def _plausible(token: object) -> bool:
    """Whether ``token`` (from a cookie) is worth looking up at all."""
    return bool(token) and isinstance(token, str) and len(token) <= 128


def find_draft(
    session: Session, token: str | None, now: datetime, idle: timedelta, options: Sequence[ORMOption] = ()
) -> Draft | None:
    """The live draft for ``token``, or None when there is none or it has expired (and is removed).

    ``options``: loader options for what the caller reads (e.g. the screening joined in, the contact deferred).
    """
    if not _plausible(token):
        return None
    draft = session.get(Draft, hash_token(str(token)), options=list(options))
    if draft is None:
        return None
    if now - draft.updated_at > idle:
        session.delete(draft)
        return None
    return draft


def save_answers(draft: Draft, page_answers: Mapping[str, Any], now: datetime) -> None:
    """Merge one page's answers into the draft and drop answers that no longer apply.

    Any change means the stored screening no longer matches, so the link to it is cleared and the
    patient must check their answers again before seeing a result.
    """
    merged = drop_inapplicable({**draft.answers, **page_answers})
    if merged != draft.answers:
        draft.answers = merged
        draft.screening_id = None
    draft.updated_at = now


def save_contact(draft: Draft, contact: Mapping[str, Any], now: datetime) -> None:
    """Keep the contact details typed so far (JSON-ready values) until the request is sent.

    They are stored encrypted (``Draft.contact`` is an EncryptedJSON column). A new dict is assigned every
    time: changes made inside the stored dict would not be noticed and saved.
    """
    draft.contact = dict(contact)
    draft.updated_at = now


# Where the draft keeps a contact form exactly as it was typed when it could not be accepted yet (an error,
# or sent too soon after it was shown), so the patient finds it filled in when they come back to it.
TYPED = "typed"


def keep_typed(draft: Draft, typed: Mapping[str, str], now: datetime) -> None:
    """Keep the contact form as typed (text as sent, nothing checked) beside any details already accepted."""
    save_contact(draft, {**draft.contact, TYPED: dict(typed)}, now)


def clear_contact(draft: Draft, now: datetime) -> None:
    """Forget the draft's copy of the contact details: the request sent from it holds them now."""
    save_contact(draft, {}, now)


def touch(draft: Draft, now: datetime) -> None:
    """Record activity so the idle timer restarts (at most once a minute, to spare writes on reads)."""
    if now - draft.updated_at >= TOUCH_EVERY:
        draft.updated_at = now


def purge_expired(session: Session, now: datetime, idle: timedelta) -> int:
    """Delete drafts idle for longer than ``idle``; return how many were removed."""
    result = session.execute(delete(Draft).where(Draft.updated_at < now - idle))
    return int(getattr(result, "rowcount", 0) or 0)
