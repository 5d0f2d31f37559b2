"""The staff console: queue, requests, exports and administration. Every page denies by default.

A request is in one of three states: anonymous (only the sign-in page), half signed in (password accepted,
second factor due: only the code page, for a few minutes), or signed in through a live server-side session.
While STAFF_REQUIRE_2FA is on, a signed-in account without two-factor reaches only the enrolment page.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.extensions import login_manager
from app.models import StaffUser, utcnow
from app.staff.sessions import load_signed_in, must_enrol, second_step_account

bp = Blueprint("staff", __name__, url_prefix="/staff")

# The only staff endpoints an anonymous visitor may reach.
PUBLIC_ENDPOINTS = frozenset({"staff.login"})
# Reachable only half signed in: the password was accepted a moment ago and the second factor is due.
SECOND_STEP_ENDPOINTS = frozenset({"staff.login_code"})
# All that an account without two-factor may reach while it is required.
ENROLMENT_ENDPOINTS = frozenset({"staff.two_factor", "staff.logout", "staff.keepalive"})


def _refuse_anonymous() -> Response:
    """Pages redirect to sign-in; JSON and non-GET requests get a bare 401 (nothing to redirect back to)."""
    wants_json = request.accept_mimetypes.best == "application/json" or request.is_json
    if request.method != "GET" or wants_json:
        abort(401)
    return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))


def _send_to_enrolment() -> Response:
    """Pages redirect to the two-factor set-up; anything else is refused until it is done."""
    if request.method != "GET":
        abort(403)
    return redirect(url_for("staff.two_factor"))


@bp.before_request
def deny_by_default() -> Response | None:
    """Let only the sign-in page through without a live session; the code page only half signed in."""
    endpoint = request.endpoint
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    if endpoint in SECOND_STEP_ENDPOINTS and not current_user.is_authenticated:
        return None if second_step_account(utcnow()) is not None else _refuse_anonymous()
    if not current_user.is_authenticated:
        return _refuse_anonymous()
    if endpoint not in ENROLMENT_ENDPOINTS and must_enrol(current_user):
        return _send_to_enrolment()
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    """Console pages show patient data: never keep them in a browser or proxy cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """The signed-in account, only while its server-side session is live (not ended, idle or too old)."""
    return load_signed_in(user_id)


login_manager.unauthorized_handler(_refuse_anonymous)

# Route modules register themselves on bp.
from app.staff import (  # noqa: E402,F401
    admin_routes,
    auth_routes,
    booking_routes,
    codebook_routes,
    dashboard_routes,
    export_routes,
    fhir_routes,
    filters,
    messages_routes,
    outbox_routes,
    queue_routes,
    request_routes,
    schedule_routes,
    session_routes,
    two_factor_routes,
)
