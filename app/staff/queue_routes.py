"""The work queue page, and its search and filter form.

The form is a POST: the search text (often a patient's name or phone number) is kept in the staff
session, encrypted, and the queue's URL carries only the random id it is kept under (``search=<id>``),
so the text never reaches access logs, browser history or Referer headers. Every other filter stays in
the query string, so a view can still be bookmarked.
"""

from __future__ import annotations

import secrets

from flask import current_app, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.casework.audit import record
from app.casework.call_list import call_rows
from app.casework.queue import fetch_page, parse_filters, status_counts
from app.casework.status import CONTACT_OUTCOMES, STATUS_LABELS
from app.extensions import db
from app.intake import contact
from app.messaging.inbound import unread_by_request
from app.models import CATEGORY_RANK, StaffUser, utcnow
from app.security.crypto import DecryptionError, KeyConfigError, keyring
from app.staff import bp
from app.staff.access import EXPORT, READ_REQUESTS, WORK_REQUESTS, client_ip, roles_required
from app.staff.work_forms import TakeForm

SEARCHES_KEY = "queue_searches"  # in the session: [[id, encrypted text], ...], newest last
SEARCHES_KEPT = 5  # enough for the back button across a few searches; keeps the session small
SEARCH_PURPOSE = "staff_session.queue_search"  # binds each ciphertext to this use (app/security/crypto.py)
FILTER_FIELDS = ("status", "view", "category", "assignee", "from", "to")


def remember_search(text: str) -> str:
    """Keep ``text`` in the staff session (encrypted) under a new random id; return the id."""
    search_id = secrets.token_urlsafe(6)
    kept = [pair for pair in session.get(SEARCHES_KEY, []) if isinstance(pair, list) and len(pair) == 2]
    session[SEARCHES_KEY] = [*kept, [search_id, keyring().encrypt(text, SEARCH_PURPOSE)]][-SEARCHES_KEPT:]
    return search_id


def stored_search(search_id: str) -> str | None:
    """The search text kept under ``search_id`` in this staff session, or None."""
    for pair in session.get(SEARCHES_KEY, []):
        if isinstance(pair, list) and len(pair) == 2 and pair[0] == search_id:
            try:
                return keyring().decrypt(str(pair[1]), SEARCH_PURPOSE)
            except (DecryptionError, KeyConfigError):  # a retired key, or tampering: as if it had ended
                return None
    return None


@bp.post("/requests")
@roles_required(*READ_REQUESTS)
def queue_search() -> Response:
    """Keep the search text in the session, then show the queue with the filters in its URL (a 303)."""
    args = {key: request.form.get(key, "").strip() for key in FILTER_FIELDS}
    if args["status"] == "open":  # the default: keep the URL short
        args["status"] = ""
    if "clear" in request.form:
        session.pop(SEARCHES_KEY, None)
    else:
        text = request.form.get("q", "").strip()[:100]
        args["search"] = remember_search(text) if text else ""
    return redirect(url_for("staff.queue", **{key: value for key, value in args.items() if value}), code=303)


@bp.get("/requests")
@roles_required(*READ_REQUESTS)
def queue() -> str:
    """The call list: emergencies, overdue, then by category; filters from the query string, search from the session."""
    filters = parse_filters(request.args, stored_search)
    clinic = current_app.extensions["clinic"]
    now = utcnow()
    # Listing names and phone numbers is access to patient data: audited, without the search text. Committed
    # before the page is read: a commit expires every loaded row, and the template would then reload each of
    # the 50 requests with a query of its own (and decrypt it again).
    record(db.session, "view_queue", now=now, staff_id=current_user.id, ip=client_ip(),
           detail={**filters.to_args(q="", after=""), "searched": bool(filters.q)})
    db.session.commit()
    page = fetch_page(db.session, filters, staff_id=current_user.id, tz=clinic.timezone, region=clinic.phone_region,
                      now=now, overdue_before=clinic.overdue_cutoff(now))
    staff = db.session.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.name)).all()
    return render_template(
        "staff/queue.html", page=page, filters=filters,
        rows=call_rows(page.rows, clinic=clinic, now=now,
                       unread=unread_by_request(db.session, [r.id for r in page.rows])),
        counts=status_counts(db.session), staff=staff, statuses=STATUS_LABELS, categories=list(CATEGORY_RANK),
        can_export=current_user.role in EXPORT, can_work=current_user.role in WORK_REQUESTS, take_form=TakeForm(),
        contact_outcomes=CONTACT_OUTCOMES, label=contact.label,
    )
