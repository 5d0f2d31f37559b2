"""Staff sessions held on the server: start, check, touch and end them.

The browser's cookie carries a random token; only its SHA-256 is stored, so a copy of the database
cannot be turned into a working cookie. A session ends at sign-out, after the idle or absolute limit,
when an admin ends it, or when the account is disabled or its password changes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from app.models import StaffSession

END_REASONS = ("logout", "idle", "absolute", "admin", "disabled", "password")
# Writing last_seen_at on every request would turn every page view into a write; once in this interval
# is enough. The idle limit counts from the recorded time, so a session may end up to this much early,
# never late.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class SessionLimits:
    """How long a session may sit unused, and how long it may last in any case."""

    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class SessionCheck:
    """A cookie token checked against the server: the live session, or why there is none."""

    live: StaffSession | None
    ended_reason: str | None = None  # None with no live session: the token is unknown


def hash_token(token: str) -> str:
    """The stored form of a cookie token."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, staff_id: int, now: datetime, *, ip: str | None,
                  user_agent: str | None) -> tuple[str, StaffSession]:
    """Add a new session for the account; return the token for the cookie, and the row."""
    token = secrets.token_urlsafe(32)
    row = StaffSession(token_hash=hash_token(token), staff_id=staff_id, created_at=now, last_seen_at=now, ip=ip,
                       user_agent=(user_agent or "")[:200] or None)
    session.add(row)
    return token, row


def ends_at(row: StaffSession, limits: SessionLimits) -> datetime:
    """When the session ends if it is not used again: the idle limit or the absolute limit, whichever is first."""
    return min(row.last_seen_at + limits.idle, row.created_at + limits.absolute)


def lapse_reason(row: StaffSession, now: datetime, limits: SessionLimits) -> str | None:
    """``absolute`` or ``idle`` when the session has run out at ``now``; None while it is live."""
    if now >= row.created_at + limits.absolute:
        return "absolute"
    if now >= row.last_seen_at + limits.idle:
        return "idle"
    return None


def end_session(row: StaffSession, reason: str, now: datetime) -> None:
    """End one session (no-op if it has already ended)."""
    if reason not in END_REASONS:
        raise ValueError(f"unknown session end reason {reason!r}")
    if row.ended_at is None:
        row.ended_at, row.end_reason = now, reason


def check_session(session: Session, token: str, now: datetime, limits: SessionLimits) -> SessionCheck:
    """The live session behind a cookie token; one that has just run out is ended (at the moment it lapsed)."""
    row = session.get(StaffSession, hash_token(token))
    if row is None:
        return SessionCheck(None)
    if row.ended_at is not None:
        return SessionCheck(None, row.end_reason)
    reason = lapse_reason(row, now, limits)
    if reason is not None:
        end_session(row, reason, min(now, ends_at(row, limits)))
        return SessionCheck(None, reason)
    return SessionCheck(row)


def touch(row: StaffSession, now: datetime, *, force: bool = False) -> bool:
    """Record activity (at most once per TOUCH_EVERY unless forced); return whether the row changed."""
    if not force and now - row.last_seen_at < TOUCH_EVERY:
        return False
    row.last_seen_at = now
    return True


def end_sessions(session: Session, staff_id: int, reason: str, now: datetime) -> int:
    """End every open session of an account (admin action, disable, password change); return how many."""
    if reason not in END_REASONS:
        raise ValueError(f"unknown session end reason {reason!r}")
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[tuple[()]], result).rowcount


def live_session_counts(session: Session, now: datetime, limits: SessionLimits) -> dict[int, int]:
    """{staff id: number of sessions that are live now}, for the accounts page."""
    rows = session.execute(
        select(StaffSession.staff_id, func.count())
        .where(StaffSession.ended_at.is_(None), StaffSession.last_seen_at > now - limits.idle,
               StaffSession.created_at > now - limits.absolute)
        .group_by(StaffSession.staff_id)
    )
    return {staff_id: count for staff_id, count in rows.tuples()}
