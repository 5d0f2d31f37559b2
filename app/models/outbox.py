"""Outgoing messages (email and text), queued in the same transaction as the change that causes them.

The worker (``flask worker``) sends each when it falls due: ``next_attempt_at`` is the due time of a new
message (a reminder two days before a visit is due then) and of the next retry of a failed one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import EncryptedText, UTCDateTime, utcnow

CHANNELS = ("email", "sms")


class OutboxMessage(db.Model):
    """An email or text waiting to be sent, sent, cancelled, or given up on after repeated failures.

    The recipient (a patient's phone number or email address) and the body are encrypted like contact details:
    the body of a staff reply is typed by a person, and the recipient says who is a patient of the clinic.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_sent_at_next_attempt_at", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), default="email", server_default="email")
    kind: Mapped[str] = mapped_column(String(24), default="staff_notice", server_default="staff_notice")
    # The request a message to a patient is about; its messages go when the request is purged.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("consultation_request.id", ondelete="CASCADE"),
                                                   index=True)
    recipient: Mapped[str] = mapped_column(EncryptedText("outbox_message.recipient"))
    # A text's number as its blind index: a STOP from that number cancels it (app/security/search_index.py).
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(EncryptedText("outbox_message.body"))
    attachment: Mapped[str | None] = mapped_column(EncryptedText("outbox_message.attachment"))  # an iCalendar
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # set when retries are exhausted
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a moved visit, or a STOP
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the text provider's message id
    delivery_status: Mapped[str | None] = mapped_column(String(24))  # as the provider last reported it
