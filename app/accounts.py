"""Staff accounts: creation, passwords (argon2id) and the active flag. No Flask import."""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ROLES, StaffUser

PASSWORD_MIN = 12
PASSWORD_MAX = 256  # generous for passphrases; bounded so hashing cost cannot be abused
_hasher = PasswordHasher()  # argon2-cffi defaults: argon2id, RFC 9106 low-memory profile

# Verifying against this when the email is unknown keeps the time the same as for a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


class AccountError(ValueError):
    """An account operation was refused; the message says why, for the person doing it."""


def check_password_rules(password: str) -> None:
    """At least 12 characters, at most 256; no composition rules (NIST SP 800-63B)."""
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"Password must be at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"Password must be {PASSWORD_MAX} characters or fewer")


def normalise_email(email: str) -> str:
    """A staff email, syntax-checked and lower-cased so it is unique regardless of case."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise AccountError("Enter a valid email address, like name@clinic.example") from None


def find_by_email(session: Session, email: str) -> StaffUser | None:
    """The account with this email (any case), or None."""
    return session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))


def create_staff(session: Session, email: str, name: str, role: str, password: str, now: datetime) -> StaffUser:
    """Add an active account; refuse a duplicate email, an unknown role or a weak password."""
    address = normalise_email(email)
    if role not in ROLES:
        raise AccountError(f"Role must be one of: {', '.join(ROLES)}")
    display = name.strip()
    if not display or len(display) > 100:
        raise AccountError("Enter a display name of 1 to 100 characters")
    check_password_rules(password)
    if find_by_email(session, address) is not None:
        raise AccountError(f"An account for {address} already exists")
    user = StaffUser(email=address, name=display, role=role, password_hash=_hasher.hash(password),
                     active=True, created_at=now, updated_at=now)
    session.add(user)
    return user


def set_password(user: StaffUser, password: str, now: datetime) -> None:
    """Replace the account's password."""
    check_password_rules(password)
    user.password_hash = _hasher.hash(password)
    user.updated_at = now


def set_active(user: StaffUser, active: bool, now: datetime) -> None:
    """Enable or disable an account; a disabled account cannot sign in."""
    user.active = active
    user.updated_at = now


def authenticate(session: Session, email: str, password: str, now: datetime) -> StaffUser | None:
    """The active account matching these credentials, or None (same cost whether or not the email exists)."""
    user = find_by_email(session, email) if len(password) <= PASSWORD_MAX else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:PASSWORD_MAX])
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):  # parameters were raised since it was hashed
        user.password_hash = _hasher.hash(password)
        user.updated_at = now
    return user
