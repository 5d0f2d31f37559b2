"""The work queue page."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_login import current_user
from sqlalchemy import select

from app.audit import record
from app.extensions import db
from app.models import CATEGORY_RANK, StaffUser, utcnow
from app.queue import fetch_page, parse_filters, status_counts
from app.request_status import STATUS_LABELS
from app.staff import bp
from app.staff.access import EXPORT, READ_REQUESTS, client_ip, roles_required


@bp.get("/requests")
@roles_required(*READ_REQUESTS)
def queue() -> str:
    """Open requests, emergencies first; filters and search from the query string."""
    filters = parse_filters(request.args)
    clinic = current_app.extensions["clinic"]
    page = fetch_page(db.session, filters, staff_id=current_user.id, tz=clinic.timezone, region=clinic.phone_region)
    # Listing names and phone numbers is access to patient data: audited, without the search text.
    record(db.session, "view_queue", now=utcnow(), staff_id=current_user.id, ip=client_ip(),
           detail={**filters.to_args(q="", after=""), "searched": bool(filters.q)})
    db.session.commit()
    staff = db.session.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.name)).all()
    return render_template(
        "staff/queue.html", page=page, filters=filters, counts=status_counts(db.session), staff=staff,
        statuses=STATUS_LABELS, categories=list(CATEGORY_RANK), can_export=current_user.role in EXPORT,
    )
