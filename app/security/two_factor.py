"""Two-factor sign-in: TOTP secrets and single-use codes, the QR code, and recovery codes.

An account has two-factor sign-in once ``totp_enabled_at`` is set. Before that, a ``totp_secret`` without
it is an enrolment in progress (the QR code stays the same if the page is reloaded).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import cast

import pyotp
import segno
from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.models import RecoveryCode, StaffUser
from app.security.accounts import hash_secret, secret_matches

RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 10  # about 49 bits each from the alphabet below
_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off paper without mistakes
TOTP_DIGITS = 6


class TwoFactorError(ValueError):
    """A two-factor operation does not apply to the account in its current state."""


def is_enabled(user: StaffUser) -> bool:
    """Whether the account signs in with a code as well as its password."""
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def enrolment_secret(user: StaffUser) -> str:
    """The secret being enrolled, created on first use; an enabled account must be reset first."""
    if is_enabled(user):
        raise TwoFactorError("Two-factor sign-in is already on for this account")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
    return user.totp_secret


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code for ``uri`` as inline SVG markup (no script, no style attribute)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff",
                                                     title="QR code for your authenticator app"))


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def accept_totp(session: Session, user: StaffUser, code: str, now: datetime) -> bool:
    """Whether ``code`` is the account's code for now (one step either side) and newer than any code used before.

    The step is claimed with a conditional UPDATE, so the same code sent twice at once is accepted once.
    """
    if not user.totp_secret or len(code) != TOTP_DIGITS or not code.isdigit():
        return False
    totp = pyotp.TOTP(user.totp_secret)
    current = totp.timecode(now)
    step = next((s for s in (current - 1, current, current + 1)
                 if hmac.compare_digest(totp.generate_otp(s), code)), None)
    if step is None:
        return False
    claimed = session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[tuple[()]], claimed).rowcount == 1


def enable(session: Session, user: StaffUser, code: str, now: datetime) -> list[str] | None:
    """Turn two-factor sign-in on if ``code`` matches the enrolment secret; return the new recovery codes."""
    if is_enabled(user) or not accept_totp(session, user, "".join(code.split()), now):
        return None
    user.totp_enabled_at = user.updated_at = now
    return replace_recovery_codes(session, user, now)


def reset(session: Session, user: StaffUser, now: datetime) -> None:
    """Turn two-factor sign-in off (an admin's action, e.g. after a lost phone); recovery codes go too."""
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    user.updated_at = now
    session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == user.id))


def normalise_recovery_code(code: str) -> str:
    """A recovery code as stored: upper case, without the spaces and dashes people type."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def replace_recovery_codes(session: Session, user: StaffUser, now: datetime) -> list[str]:
    """Make a fresh set of recovery codes (the old ones stop working); return them to show once."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == user.id))
    codes = ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
             for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(RecoveryCode(staff_id=user.id, code_hash=hash_secret(code), created_at=now) for code in codes)
    half = RECOVERY_CODE_LENGTH // 2
    return [f"{code[:half]}-{code[half:]}" for code in codes]


def use_recovery_code(session: Session, user: StaffUser, code: str, now: datetime) -> bool:
    """Whether ``code`` is one of the account's unused recovery codes; if so it is used up."""
    candidate = normalise_recovery_code(code)
    if len(candidate) != RECOVERY_CODE_LENGTH:
        return False  # refused before any hashing
    unused = session.scalars(select(RecoveryCode).where(RecoveryCode.staff_id == user.id,
                                                         RecoveryCode.used_at.is_(None))).all()
    match = next((row for row in unused if secret_matches(row.code_hash, candidate)), None)
    if match is None:
        return False
    claimed = session.execute(
        update(RecoveryCode).where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None)).values(used_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[tuple[()]], claimed).rowcount == 1


def unused_recovery_codes(session: Session, user: StaffUser) -> int:
    """How many recovery codes the account has left."""
    return session.scalar(select(func.count()).select_from(RecoveryCode)
                          .where(RecoveryCode.staff_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def verify_second_factor(session: Session, user: StaffUser, code: str, now: datetime) -> str | None:
    """``totp`` or ``recovery`` when ``code`` is a fresh app code or an unused recovery code, else None."""
    compact = "".join(code.split())
    if compact.isdigit() and len(compact) == TOTP_DIGITS:
        return "totp" if accept_totp(session, user, compact, now) else None
    return "recovery" if use_recovery_code(session, user, code, now) else None
