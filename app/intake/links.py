"""Links staff send a patient to do one thing for their request (send documents, book a time). No Flask.

A link is 32 random bytes in the URL; only their SHA-256 is stored. It names no patient, works until it
expires (a booking link also until it is used), and finds nothing once its request is purged.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import ConsultationRequest, PatientLink

PURPOSES = ("documents", "booking")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_link(session: Session, req: ConsultationRequest, purpose: str, *, now: datetime, valid_for: timedelta,
             actor_id: int | None) -> str:
    """Make a link for ``req`` (no commit); return its token, the only time it exists in clear."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    token = secrets.token_urlsafe(32)
    session.add(PatientLink(token_hash=_hash(token), purpose=purpose, request_id=req.id, created_by_id=actor_id,
                            created_at=now, expires_at=now + valid_for))
    return token


def request_for_link(session: Session, token: str, purpose: str, now: datetime) -> ConsultationRequest | None:
    """The request a live link of ``purpose`` is for; None for an unknown, expired or other-purpose link."""
    if not token or len(token) > 100:
        return None
    return session.scalar(
        select(ConsultationRequest).join(PatientLink, PatientLink.request_id == ConsultationRequest.id)
        .where(PatientLink.token_hash == _hash(token), PatientLink.purpose == purpose, PatientLink.expires_at > now,
               PatientLink.used_at.is_(None))
    )


def was_used(session: Session, token: str, purpose: str) -> bool:
    """The link of ``purpose`` existed and has been used (a booking link after the booking)."""
    if not token or len(token) > 100:
        return False
    return session.scalar(select(PatientLink.id).where(PatientLink.token_hash == _hash(token),
                                                       PatientLink.purpose == purpose,
                                                       PatientLink.used_at.is_not(None))) is not None


def use_link(session: Session, token: str, purpose: str, now: datetime) -> ConsultationRequest | None:
    """Mark a live link used (no commit) and return its request; None when it is unknown, expired or used.

    One conditional UPDATE: of two submissions of the same link at once, exactly one gets the request.
    """
    found = request_for_link(session, token, purpose, now)
    if found is None:
        return None
    marked = session.execute(
        update(PatientLink)
        .where(PatientLink.token_hash == _hash(token), PatientLink.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    )
    return found if getattr(marked, "rowcount", 0) == 1 else None
