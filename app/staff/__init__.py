"""The staff console: queue, requests, exports and administration. Every page denies by default."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.extensions import db, login_manager
from app.models import StaffUser

bp = Blueprint("staff", __name__, url_prefix="/staff")

# The only staff endpoints an anonymous visitor may reach.
PUBLIC_ENDPOINTS = frozenset({"staff.login"})


def _refuse_anonymous() -> Response:
    """Pages redirect to sign-in; JSON and non-GET requests get a bare 401 (nothing to redirect back to)."""
    wants_json = request.accept_mimetypes.best == "application/json" or request.is_json
    if request.method != "GET" or wants_json:
        abort(401)
    return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))


@bp.before_request
def deny_by_default() -> Response | None:
    """Let only the sign-in page through without an authenticated, active account."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return _refuse_anonymous()


@bp.after_request
def no_store(response: Response) -> Response:
    """Console pages show patient data: never keep them in a browser or proxy cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """The signed-in account, only while it is active."""
    user = db.session.get(StaffUser, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


login_manager.unauthorized_handler(_refuse_anonymous)

# Route modules register themselves on bp.
from app.staff import (  # noqa: E402,F401
    admin_routes,
    auth_routes,
    export_routes,
    filters,
    outbox_routes,
    queue_routes,
    request_routes,
)
