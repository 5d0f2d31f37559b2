"""The email outbox, for admins: what was sent, what is waiting, what failed."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from app.casework.audit import record
from app.casework.notify import outbox_counts, recent_messages
from app.extensions import db
from app.models import utcnow
from app.staff import bp
from app.staff.access import ADMINISTER, client_ip, roles_required

OUTBOX_PAGE_SIZE = 100


@bp.get("/admin/outbox")
@roles_required(*ADMINISTER)
def outbox() -> str:
    """Counts of waiting, sent and failed emails, and the newest 100 messages (subjects only)."""
    record(db.session, "view_outbox", now=utcnow(), staff_id=current_user.id, ip=client_ip())
    db.session.commit()  # the subjects name request references: who looked is recorded first
    counts = outbox_counts(db.session)
    messages = recent_messages(db.session, OUTBOX_PAGE_SIZE)
    db.session.commit()
    return render_template("staff/outbox.html", counts=counts, messages=messages, now=utcnow(),
                           limit=OUTBOX_PAGE_SIZE)
