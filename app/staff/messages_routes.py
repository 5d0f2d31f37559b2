"""Texts from patients: the Messages view, newest first, with what nobody has read yet."""

from __future__ import annotations

from collections.abc import Callable

from flask import render_template
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.casework.audit import record
from app.extensions import db
from app.messaging.inbound import unread_count
from app.models import ConsultationRequest, InboundText, utcnow
from app.staff import bp
from app.staff.access import READ_REQUESTS, client_ip, roles_required

SHOWN = 200


@bp.context_processor
def unread_texts() -> dict[str, Callable[[], int]]:
    """The console's navigation shows how many texts wait to be read (counted only when a page asks)."""
    return {"unread_texts": lambda: unread_count(db.session)}


@bp.get("/messages")
@roles_required(*READ_REQUESTS)
def messages() -> str:
    """The newest texts from patients; unread ones first marked. Opening a request marks its texts read."""
    texts = list(db.session.scalars(select(InboundText).order_by(InboundText.received_at.desc(), InboundText.id.desc())
                                    .limit(SHOWN)))
    ids = {t.request_id for t in texts if t.request_id}
    requests = {r.id: r for r in db.session.scalars(
        select(ConsultationRequest).where(ConsultationRequest.id.in_(ids)).options(
            selectinload(ConsultationRequest.assignee)))} if ids else {}
    record(db.session, "view_messages", now=utcnow(), staff_id=current_user.id, ip=client_ip())
    db.session.commit()
    return render_template("staff/messages.html", texts=texts, requests=requests, shown=SHOWN,
                           unread=sum(1 for t in texts if t.read_at is None))
