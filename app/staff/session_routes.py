"""Staff sessions: the 'Stay signed in' keep-alive, and an admin ending every session of an account."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.casework.audit import record
from app.extensions import db
from app.models import ROLES, StaffUser, utcnow
from app.security.accounts import clear_failures, is_locked
from app.security.staff_sessions import end_sessions
from app.staff import bp
from app.staff.access import ADMINISTER, client_ip, roles_required
from app.staff.forms import AccountActionForm
from app.staff.sessions import keep_alive


@bp.post("/session/keepalive")
@roles_required(*ROLES)
def keepalive() -> Response:
    """Mark the session as in use (204). Deny-by-default has already refused it (401) if the session has ended."""
    keep_alive(utcnow())
    db.session.commit()
    return Response(status=204)


@bp.post("/admin/accounts/<int:user_id>/unlock")
@roles_required(*ADMINISTER)
def account_unlock(user_id: int) -> Response:
    """End the lock that failed sign-ins put on an account, so its owner can sign in again now."""
    user = db.get_or_404(StaffUser, user_id)
    if not AccountActionForm().validate_on_submit():
        abort(400)
    now = utcnow()
    if is_locked(user, now):
        record(db.session, "account_unlock", now=now, staff_id=current_user.id, ip=client_ip(),
               target_type="staff_user", target_id=user.id, detail={"via": "console"})
    clear_failures(user)
    db.session.commit()
    flash(f"{user.name} can sign in again.", "success")
    return redirect(url_for("staff.accounts"), code=303)


@bp.post("/admin/accounts/<int:user_id>/end-sessions")
@roles_required(*ADMINISTER)
def account_end_sessions(user_id: int) -> Response:
    """End every session of an account: its browsers are signed out on their next request."""
    user = db.get_or_404(StaffUser, user_id)
    if not AccountActionForm().validate_on_submit():
        abort(400)
    now = utcnow()
    ended = end_sessions(db.session, user.id, "admin", now)
    record(db.session, "sessions_ended", now=now, staff_id=current_user.id, ip=client_ip(), target_type="staff_user",
           target_id=user.id, detail={"sessions": ended})
    db.session.commit()
    flash(f"Every session of {user.name} has ended.", "success")
    return redirect(url_for("staff.accounts"), code=303)
