"""Staff sessions: the console's own cookie, the server-side session behind it, and the half-signed-in step.

Two cookies, one per audience. Requests under ``/staff/`` read and write ``STAFF_SESSION_COOKIE_NAME``;
everything else uses ``SESSION_COOKIE_NAME`` (the patient's draft cookie). Both have Path=/ (the
``__Host-`` prefix used in production requires it) and the same HttpOnly, SameSite=Lax and, in production,
Secure attributes; they are signed with different salts, so one cannot stand in for the other. Signing in
or out of the console clears only the console's cookie, and the patient's draft is untouched.

The console cookie holds a random token; the session itself is a ``StaffSession`` row (app/security/staff_sessions.py)
checked on every request by the Flask-Login user loader.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app, flash, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_user, logout_user

from app.extensions import db
from app.models import StaffSession, StaffUser, utcnow
from app.security.accounts import Throttle
from app.security.staff_sessions import (
    SessionCheck,
    SessionLimits,
    check_session,
    end_session,
    ends_at,
    start_session,
    touch,
)
from app.security.two_factor import is_enabled
from app.staff.access import client_ip

STAFF_PATH = "/staff/"
SESSION_TOKEN_KEY = "staff_session"  # noqa: S105 - the name of the cookie key, not a secret
SECOND_STEP_KEY = "second_step"  # the half-signed-in state: password accepted, code still to come
SECOND_STEP_TIME = timedelta(minutes=5)  # long enough to open the app, short enough that a left-open tab lapses
_SIGNED_IN_KEYS = ("_user_id", "_fresh", "_id", SESSION_TOKEN_KEY)  # Flask-Login's keys and ours

ENDED_MESSAGES = {
    "idle": "You were signed out because the console was not used for {idle} minutes. Sign in again to carry on.",
    "absolute": "You were signed out because you had been signed in for {absolute} hours. Sign in again to carry on.",
    "admin": "An administrator ended your session. Sign in again to carry on.",
    "password": "Your password was changed, so you were signed out. Sign in with the new password.",
    "disabled": "Your session has ended.",
}


def is_staff_request() -> bool:
    """Whether the current request is for the staff console (and so uses its cookie)."""
    return has_request_context() and (request.path + "/").startswith(STAFF_PATH)


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions, with a separate cookie (and signing salt) for the staff console."""

    @property  # type: ignore[override]  # a per-request value where Flask has a class constant
    def salt(self) -> str:
        """A different salt per cookie: a patient cookie copied under the staff name does not verify."""
        return "staff-session" if is_staff_request() else "cookie-session"

    def get_cookie_name(self, app: Flask) -> str:
        """The staff cookie under /staff/, the patient cookie everywhere else."""
        return str(app.config["STAFF_SESSION_COOKIE_NAME"]) if is_staff_request() else super().get_cookie_name(app)


def init_staff_sessions(app: Flask) -> None:
    """Install the two-cookie session interface and the session timing shown on console pages."""
    app.session_interface = ConsoleSessionInterface()
    app.context_processor(session_timing)


def limits() -> SessionLimits:
    """The idle and absolute limits from the configuration."""
    return SessionLimits(idle=current_app.config["STAFF_IDLE_TIMEOUT"],
                         absolute=current_app.config["STAFF_ABSOLUTE_TIMEOUT"])


def throttle() -> Throttle:
    """The per-account sign-in throttle from the configuration."""
    return Throttle(max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                    window=current_app.config["LOGIN_FAILURE_WINDOW"])


# --- signed in --------------------------------------------------------------------------------------

def begin(user: StaffUser, now: datetime) -> None:
    """Sign ``user`` in: a fresh cookie (nothing carried over from before) and a new server-side session."""
    session.clear()
    token, row = start_session(db.session, user.id, now, ip=client_ip(), user_agent=request.user_agent.string)
    session[SESSION_TOKEN_KEY] = token
    login_user(user)
    g.staff_session = row


def end_current(reason: str, now: datetime) -> None:
    """Sign out: end the server-side session, so a copy of the cookie stops working too."""
    row: StaffSession | None = g.get("staff_session")
    if row is not None:
        end_session(row, reason, now)
    logout_user()
    session.clear()


def keep_alive(now: datetime) -> None:
    """Record activity now (the 'Stay signed in' button), whatever the write interval."""
    row: StaffSession | None = g.get("staff_session")
    if row is not None:
        touch(row, now, force=True)


def load_signed_in(user_id: str) -> StaffUser | None:
    """The account behind the cookie, only while its server-side session is live and the account active.

    Called by Flask-Login once per request. A session that has run out is ended and forgotten, with a
    message saying why for the sign-in page.
    """
    now = utcnow()
    token = session.get(SESSION_TOKEN_KEY)
    check = check_session(db.session, token, now, limits()) if isinstance(token, str) else SessionCheck(None)
    row, ended = check.live, check.ended_reason
    user = db.session.get(StaffUser, int(user_id)) if user_id.isdigit() else None
    if row is not None and user is not None and row.staff_id == user.id and not user.active:
        end_session(row, "disabled", now)
        row, ended = None, "disabled"
    if row is None or user is None or row.staff_id != user.id:
        _forget(ended)
        db.session.commit()  # an ending found here is recorded
        return None
    if touch(row, now):
        db.session.commit()
    g.staff_session = row
    return user


def _forget(ended: str | None) -> None:
    """Drop the signed-in keys from the cookie (keeping its CSRF token) and say why, if there is a reason."""
    for key in _SIGNED_IN_KEYS:
        session.pop(key, None)
    if ended in ENDED_MESSAGES:
        config = current_app.config
        flash(ENDED_MESSAGES[ended].format(idle=int(config["STAFF_IDLE_TIMEOUT"].total_seconds() // 60),
                                           absolute=int(config["STAFF_ABSOLUTE_TIMEOUT"].total_seconds() // 3600)),
              "error")


def must_enrol(user: StaffUser) -> bool:
    """Two-factor sign-in is required and this account has not set it up yet."""
    return bool(current_app.config["STAFF_REQUIRE_2FA"]) and not is_enabled(user)


def session_timing() -> dict[str, Any]:
    """When the signed-in session ends, for the header text and the idle warning script."""
    if not is_staff_request() or not current_user.is_authenticated:  # loads the session, setting g
        return {}
    row: StaffSession | None = g.get("staff_session")
    if row is None:
        return {}
    now, lim = utcnow(), limits()
    end = ends_at(row, lim)
    return {"staff_session": {
        "ends_at": end,
        "ends_in": max(0, int((end - now).total_seconds())),
        "absolute_in": max(0, int((row.created_at + lim.absolute - now).total_seconds())),
        "idle": int(lim.idle.total_seconds()),
        "by_absolute": end == row.created_at + lim.absolute,
        "limit_hours": int(lim.absolute.total_seconds() // 3600),
    }, "enrolment_only": must_enrol(current_user)}


# --- half signed in: password accepted, second factor to come ---------------------------------------

def begin_second_step(user: StaffUser, next_url: str, now: datetime) -> None:
    """Remember, for a few minutes, whose password was accepted; this grants nothing but the code page."""
    session.clear()
    session[SECOND_STEP_KEY] = {"staff_id": user.id, "until": (now + SECOND_STEP_TIME).timestamp(),
                                "next": next_url}


def second_step_account(now: datetime) -> StaffUser | None:
    """The account waiting for its second factor, while that state is fresh and the account still qualifies."""
    state = session.get(SECOND_STEP_KEY)
    if not isinstance(state, dict) or float(state.get("until", 0)) <= now.timestamp():
        session.pop(SECOND_STEP_KEY, None)
        return None
    user = db.session.get(StaffUser, int(state.get("staff_id", 0)))
    return user if user is not None and user.active and is_enabled(user) else None


def second_step_next() -> str:
    """Where to go once the second factor is accepted (checked as a local path when it was stored)."""
    state = session.get(SECOND_STEP_KEY)
    return str(state.get("next", "")) if isinstance(state, dict) else ""


def drop_second_step() -> None:
    """Forget the half-signed-in state (too many wrong codes, or starting again)."""
    session.pop(SECOND_STEP_KEY, None)
