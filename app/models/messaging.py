"""Texts from patients, numbers that opted out of texts, and the daily jobs the worker has done."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import EncryptedText, UTCDateTime, utcnow


class InboundText(db.Model):
    """A text a patient sent to the clinic's number, matched to their latest request when one is found."""

    __tablename__ = "inbound_text"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64), unique=True)  # a provider's retry is stored once
    request_id: Mapped[int | None] = mapped_column(ForeignKey("consultation_request.id", ondelete="CASCADE"),
                                                   index=True)
    phone_index: Mapped[str] = mapped_column(String(64), index=True)
    sender: Mapped[str] = mapped_column(EncryptedText("inbound_text.sender"))  # E.164
    body: Mapped[str] = mapped_column(EncryptedText("inbound_text.body"))
    keyword: Mapped[str | None] = mapped_column(String(12))  # stop, start, help, confirm, reschedule
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))


class TextOptOut(db.Model):
    """A phone number (by its blind index) that sent STOP: no part of the app texts it until it sends START."""

    __tablename__ = "text_opt_out"

    phone_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DailyJob(db.Model):
    """A job the worker does once a day (the overdue digest): the primary key makes "once" hold across workers."""

    __tablename__ = "daily_job"

    name: Mapped[str] = mapped_column(String(24), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
