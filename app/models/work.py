"""The timeline of work on a consultation request: who did what, and when."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import EncryptedText, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.patient import ConsultationRequest
    from app.models.staff import StaffUser

EVENT_KINDS = ("submitted", "assigned", "status", "contact_attempt", "note", "callback", "protocol", "message",
               "text_in", "visit_reply")


class RequestEvent(db.Model):
    """One entry in a request's timeline. Rows are only ever added."""

    __tablename__ = "request_event"
    __table_args__ = (Index("ix_request_event_request_id_kind", "request_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("consultation_request.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))  # None: the patient or the system
    kind: Mapped[str] = mapped_column(String(24))
    status_from: Mapped[str | None] = mapped_column(String(24))
    status_to: Mapped[str | None] = mapped_column(String(24))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # method/outcome/assignee/appointment
    # Staff notes and contact-attempt notes can say anything about the patient: encrypted like the contact details.
    note: Mapped[str | None] = mapped_column(EncryptedText("request_event.note"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    request: Mapped[ConsultationRequest] = relationship(back_populates="events")
    staff: Mapped[StaffUser | None] = relationship()
