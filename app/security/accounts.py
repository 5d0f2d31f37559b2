"""Staff accounts: creation, passwords (argon2id), the active flag and sign-in throttling."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ROLES, StaffUser

PASSWORD_MIN = 12
PASSWORD_MAX = 256  # generous for passphrases; bounded so hashing cost cannot be abused
_profile = "RFC_9106_LOW_MEMORY"
_hasher = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)  # argon2-cffi's default profile

# Verifying against this when the email is unknown keeps the time the same as for a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


def use_password_profile(name: str) -> None:
    """Hash new passwords with the argon2 parameters of ``argon2.profiles.<name>`` (``PASSWORD_HASH_PROFILE``).

    Existing hashes still verify whatever they were made with; a stale one is rehashed at the next sign-in.
    """
    global _hasher, _DUMMY_HASH, _profile  # one hasher for the process, chosen by the configuration
    if name == _profile:
        return
    parameters = getattr(profiles, name, None)
    if not isinstance(parameters, Parameters):
        raise ValueError(f"PASSWORD_HASH_PROFILE {name!r} is not one of argon2.profiles")
    _hasher, _profile = PasswordHasher.from_parameters(parameters), name
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
    if "\x00" in email:
        # No stored email holds a NUL (normalise_email refuses it), and PostgreSQL refuses NUL in any text
        # parameter with an error: such input is simply an unknown account, on every database.
        return None
    return session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))


def create_staff(session: Session, email: str, name: str, role: str, password: str, now: datetime) -> StaffUser:
    """Add an active account; refuse a duplicate email, an unknown role or a weak password."""
    address = normalise_email(email)
    if role not in ROLES:
        raise AccountError(f"Role must be one of: {', '.join(ROLES)}")
    display = name.strip()
    if not display or len(display) > 100:
        raise AccountError("Enter a display name of 1 to 100 characters")
    if any(unicodedata.category(ch) == "Cc" for ch in display):
        # Control characters have no place in a name; NUL in particular is refused by PostgreSQL's text type
        # (a server error there), while SQLite would store it: refused alike on every database.
        raise AccountError("A display name cannot contain control characters")
    check_password_rules(password)
    if find_by_email(session, address) is not None:
        raise AccountError(f"An account for {address} already exists")
    user = StaffUser(email=address, name=display, role=role, password_hash=_hasher.hash(password),
                     active=True, created_at=now, updated_at=now)
    session.add(user)
    return user


def set_password(user: StaffUser, password: str, now: datetime) -> None:
    """Replace the account's password; a lock from failed sign-ins ends with it (the owner has a new one)."""
    check_password_rules(password)
    user.password_hash = _hasher.hash(password)
    clear_failures(user)
    user.updated_at = now


def set_active(user: StaffUser, active: bool, now: datetime) -> None:
    """Enable or disable an account; a disabled account cannot sign in."""
    user.active = active
    user.updated_at = now


def hash_secret(secret: str) -> str:
    """An argon2id hash of a password or a recovery code."""
    return _hasher.hash(secret)


def secret_matches(hashed: str, secret: str) -> bool:
    """Whether ``secret`` is the one ``hashed`` was made from."""
    try:
        return _hasher.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


def _check_password(user: StaffUser | None, password: str, now: datetime) -> bool:
    """Verify the password (against a dummy hash when there is no account, so both take as long)."""
    if not secret_matches(user.password_hash if user else _DUMMY_HASH, password[:PASSWORD_MAX]) or user is None:
        return False
    if _hasher.check_needs_rehash(user.password_hash):  # parameters were raised since it was hashed
        user.password_hash = _hasher.hash(password)
        user.updated_at = now
    return True


def authenticate(session: Session, email: str, password: str, now: datetime) -> StaffUser | None:
    """The active account matching these credentials, or None (same cost whether or not the email exists)."""
    user = find_by_email(session, email) if len(password) <= PASSWORD_MAX else None
    return user if _check_password(user, password, now) and user is not None and user.active else None


# --- sign-in throttling -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Throttle:
    """Per-account throttling: ``max_failures`` failures inside ``window`` make the account wait ``window``."""

    max_failures: int
    window: timedelta


@dataclass(frozen=True)
class SignInAttempt:
    """What a password check found: the account tried (if the email is known) and why it was refused, if it was.

    ``refused`` is one of ``unknown``, ``password``, ``disabled`` and ``locked`` (for the audit log only:
    the person signing in sees the same message whatever it is).
    """

    user: StaffUser | None
    refused: str | None = None
    lock_started: bool = False

    @property
    def accepted(self) -> bool:
        """The password was right for an active account that is not waiting out a lock."""
        return self.refused is None


def is_locked(user: StaffUser, now: datetime) -> bool:
    """Whether the account is waiting out a lock after too many failed sign-ins."""
    return user.locked_until is not None and now < user.locked_until


def record_failure(user: StaffUser, now: datetime, throttle: Throttle) -> bool:
    """Count one failed sign-in (password or code); return True when this failure starts a lock."""
    started = user.failed_window_started_at
    if started is None or now - started >= throttle.window:
        user.failed_window_started_at, user.failed_logins = now, 0
    user.failed_logins += 1
    if user.failed_logins < throttle.max_failures:
        return False
    user.locked_until = now + throttle.window
    user.failed_logins, user.failed_window_started_at = 0, None
    return True


def clear_failures(user: StaffUser) -> None:
    """Forget earlier failures and end any lock: on a full sign-in (both factors), an unlock or a new password."""
    user.failed_logins, user.failed_window_started_at, user.locked_until = 0, None, None


def attempt_sign_in(session: Session, email: str, password: str, now: datetime, throttle: Throttle) -> SignInAttempt:
    """Check a password, counting failures per account; a locked account is refused even with the right password.

    The password is verified in every case, so an unknown email, a wrong password and a locked account take
    the same time. Failures are not cleared here: the second factor, if any, is still to come.
    """
    user = find_by_email(session, email) if len(password) <= PASSWORD_MAX else None
    correct = _check_password(user, password, now)
    if user is None:
        return SignInAttempt(None, refused="unknown")
    if is_locked(user, now):
        return SignInAttempt(user, refused="locked")  # not counted: a lock is not extended by more attempts
    if not correct or not user.active:
        refused = "password" if not correct else "disabled"
        return SignInAttempt(user, refused=refused, lock_started=record_failure(user, now, throttle))
    return SignInAttempt(user)
