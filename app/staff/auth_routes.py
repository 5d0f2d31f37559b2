"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from app.accounts import authenticate, find_by_email
from app.audit import record
from app.extensions import db
from app.models import utcnow
from app.staff import bp
from app.staff.access import client_ip
from app.staff.forms import LoginForm, LogoutForm


def safe_next(target: str | None) -> str:
    """Only a local path is followed after sign-in: never another host, scheme or protocol-relative URL."""
    default = url_for("staff.queue")
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """The sign-in form; the same message for a wrong email or a wrong password."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.email.data or "", form.password.data or "", utcnow())
        if user is not None:
            session.clear()  # a fresh session at sign-in: nothing carried over from before
            login_user(user)
            record(db.session, "login", now=utcnow(), staff_id=user.id, ip=client_ip())
            db.session.commit()
            return redirect(safe_next(request.args.get("next")), code=303)
        attempted = find_by_email(db.session, form.email.data or "")  # audit whose account was tried, if any
        record(db.session, "login_failed", now=utcnow(), staff_id=attempted.id if attempted else None, ip=client_ip())
        db.session.commit()
        flash("The email or password is not right, or the account is disabled.", "error")
    return render_template("staff/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    """Sign out (a POST with a CSRF token, so another site cannot sign staff out)."""
    form = LogoutForm()
    if form.validate_on_submit():
        record(db.session, "logout", now=utcnow(), staff_id=current_user.id, ip=client_ip())
        db.session.commit()
        logout_user()
        session.clear()
    return redirect(url_for("staff.login"), code=303)
