"""Database models: drafts in progress, completed screenings, and consultation requests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

from app.extensions import db


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no timezone-aware type; without this, values would come back naive and comparisons
    with aware datetimes would fail.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timestamps in UTC with tzinfo")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Draft(db.Model):
    """A patient's answers in progress, keyed by the hash of the id in their cookie.

    Only the SHA-256 of the cookie's token is stored, so a copy of the database cannot be used to
    take over a patient's draft.
    """

    __tablename__ = "draft"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    screening_id: Mapped[int | None] = mapped_column(ForeignKey("screening.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    screening: Mapped[Screening | None] = relationship()


class Screening(db.Model):
    """A completed questionnaire with its assessment, stored whether or not a request follows."""

    __tablename__ = "screening"

    id: Mapped[int] = mapped_column(primary_key=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    assessment: Mapped[dict[str, Any]] = mapped_column(JSON)
    category: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[int]
    cook_score: Mapped[int]
    rule_version: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    request: Mapped[ConsultationRequest | None] = relationship(back_populates="screening")


class ConsultationRequest(db.Model):
    """A patient's request to be contacted about a consultation; one per screening at most."""

    __tablename__ = "consultation_request"
    __table_args__ = (Index("ix_consultation_request_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    # Unique: the database itself guarantees one request per screening, whatever the browser resends.
    screening_id: Mapped[int] = mapped_column(ForeignKey("screening.id"), unique=True)
    status: Mapped[str] = mapped_column(String(24), default="new", server_default="new")
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    preferred_contact: Mapped[str] = mapped_column(String(8))
    best_time: Mapped[str] = mapped_column(String(12))
    preferred_language: Mapped[str] = mapped_column(String(8))
    insurance: Mapped[str] = mapped_column(String(24))
    message: Mapped[str | None] = mapped_column(Text)
    consent_contact: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    screening: Mapped[Screening] = relationship(back_populates="request")
