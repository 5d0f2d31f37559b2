"""Signing in (password, then a code for accounts with two-factor) and out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.casework.audit import record
from app.extensions import db, limiter
from app.models import StaffUser, utcnow
from app.security.accounts import attempt_sign_in, clear_failures, is_locked, record_failure
from app.security.two_factor import is_enabled, verify_second_factor
from app.staff import bp
from app.staff.access import client_ip
from app.staff.forms import LoginCodeForm, LoginForm, LogoutForm
from app.staff.sessions import (
    begin,
    begin_second_step,
    drop_second_step,
    end_current,
    must_enrol,
    second_step_account,
    second_step_next,
    throttle,
)

F = TypeVar("F", bound=Callable[..., Any])

# One message for a wrong email, a wrong password, a disabled account and a locked one: none is revealed.
SIGN_IN_REFUSED = "The email or password is not right, or the account is disabled."
CODE_REFUSED = "That code is not right. Enter the code your app shows now, or one of your recovery codes."
TOO_MANY_CODES = "Too many failed attempts. Wait a few minutes, then sign in again."

# Per client address, shared by both steps (Flask-Limiter); the per-account counter is in app.security.accounts.
sign_in_limit = limiter.shared_limit(lambda: current_app.config["RATELIMIT_LOGIN"], scope="staff-sign-in",
                                     methods=["POST"])


def safe_next(target: str | None) -> str:
    """Only a local path is followed after sign-in: never another host, scheme or protocol-relative URL."""
    default = url_for("staff.queue")
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.path in (url_for("staff.login"), url_for("staff.login_code")):
        return default  # the sign-in pages themselves are not somewhere to come back to
    return target if not parts.scheme and not parts.netloc else default


def half_signed_in_only(view: F) -> F:
    """The second step is for the half-signed-in state only: no signed-in role uses it (403)."""
    view.allowed_roles = ()  # type: ignore[attr-defined]  # read by the URL-map access test

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.is_authenticated:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _audit_refusal(user: StaffUser | None, reason: str, lock_started: bool, now: datetime) -> None:
    """Every refused attempt is audited (whose account, if known); a lock starting is audited too."""
    staff_id = user.id if user else None
    record(db.session, "login_failed", now=now, staff_id=staff_id, ip=client_ip(), detail={"reason": reason})
    if lock_started and user is not None and user.locked_until is not None:
        record(db.session, "login_locked", now=now, staff_id=staff_id, ip=client_ip(), target_type="staff_user",
               target_id=staff_id, detail={"until": user.locked_until.isoformat(timespec="seconds")})


def _complete_sign_in(user: StaffUser, next_url: str, now: datetime, **detail: str) -> Response:
    """Both factors given (or the only one there is): start the session, audit it, and go on."""
    clear_failures(user)
    begin(user, now)
    record(db.session, "login", now=now, staff_id=user.id, ip=client_ip(), detail=detail)
    db.session.commit()
    if must_enrol(user):
        return redirect(url_for("staff.two_factor"), code=303)
    return redirect(next_url, code=303)


@bp.route("/login", methods=["GET", "POST"])
@sign_in_limit
def login() -> str | Response:
    """The password step; the same message for a wrong email, a wrong password or a locked account."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("staff/login.html", form=form)
    now = utcnow()
    attempt = attempt_sign_in(db.session, form.email.data or "", form.password.data or "", now, throttle())
    if not attempt.accepted or attempt.user is None:
        _audit_refusal(attempt.user, attempt.refused or "unknown", attempt.lock_started, now)
        db.session.commit()
        flash(SIGN_IN_REFUSED, "error")
        return render_template("staff/login.html", form=form)
    next_url = safe_next(request.args.get("next"))
    if not is_enabled(attempt.user):
        return _complete_sign_in(attempt.user, next_url, now)
    begin_second_step(attempt.user, next_url, now)
    db.session.commit()  # a password rehash, if there was one
    return redirect(url_for("staff.login_code"), code=303)


@bp.route("/login/code", methods=["GET", "POST"])
@sign_in_limit
@half_signed_in_only
def login_code() -> str | Response:
    """The second step: a code from the app or a recovery code, each usable once; wrong codes count as failures."""
    now = utcnow()
    user = second_step_account(now)
    if user is None or is_locked(user, now):
        drop_second_step()
        flash(TOO_MANY_CODES if user is not None else "Sign in again.", "error")
        return redirect(url_for("staff.login"), code=303)
    form = LoginCodeForm()
    if not form.validate_on_submit():
        return render_template("staff/login_code.html", form=form)
    method = verify_second_factor(db.session, user, form.code.data or "", now)
    if method is not None:
        if method == "recovery":
            record(db.session, "recovery_code_used", now=now, staff_id=user.id, ip=client_ip())
        return _complete_sign_in(user, second_step_next() or url_for("staff.queue"), now, second_factor=method)
    lock_started = record_failure(user, now, throttle())
    _audit_refusal(user, "code", lock_started, now)
    db.session.commit()
    if lock_started:
        drop_second_step()
        flash(TOO_MANY_CODES, "error")
        return redirect(url_for("staff.login"), code=303)
    form.code.errors.append(CODE_REFUSED)
    return render_template("staff/login_code.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    """Sign out (a POST with a CSRF token, so another site cannot sign staff out); the session ends on the server."""
    form = LogoutForm()
    if form.validate_on_submit():
        now = utcnow()
        record(db.session, "logout", now=now, staff_id=current_user.id, ip=client_ip())
        end_current("logout", now)
        db.session.commit()
    return redirect(url_for("staff.login"), code=303)
