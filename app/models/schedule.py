"""When consultations can be booked (locations, a weekly template, exceptions) and the bookings themselves."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import Date, ForeignKey, Index, String, Time, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.patient import ConsultationRequest


class Location(db.Model):
    """A place consultations happen: its name, address and phone, as patients are told them."""

    __tablename__ = "location"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WeeklyHours(db.Model):
    """One row of the weekly template: on ``weekday`` from ``start`` to ``end`` (clinic time), visits of
    ``visit_minutes``, ``seats`` at once."""

    __tablename__ = "weekly_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int]  # 0 Monday .. 6 Sunday
    start: Mapped[time] = mapped_column(Time())
    end: Mapped[time] = mapped_column(Time())
    visit_minutes: Mapped[int]
    seats: Mapped[int] = mapped_column(default=1)

    location: Mapped[Location] = relationship()


class ScheduleException(db.Model):
    """Days (or hours of days) when no consultation can be booked: a holiday, a doctor away.

    ``location_id`` None: every location. ``start``/``end`` None: the whole of each day.
    """

    __tablename__ = "schedule_exception"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id", ondelete="CASCADE"), index=True)
    first_day: Mapped[date] = mapped_column(Date())
    last_day: Mapped[date] = mapped_column(Date())
    start: Mapped[time | None] = mapped_column(Time())
    end: Mapped[time | None] = mapped_column(Time())
    reason: Mapped[str] = mapped_column(String(80))  # for staff: "Thanksgiving", "Dr. Lee away"; never patient data

    location: Mapped[Location | None] = relationship()


class Booking(db.Model):
    """A consultation booked at a time and place for a request.

    The database refuses a double booking: among bookings not cancelled, one row per (location, start, seat)
    and one per request. Cancelling or moving sets ``cancelled_at``, which frees the time.
    """

    __tablename__ = "booking"
    __table_args__ = (
        Index("uq_booking_seat", "location_id", "starts_at", "seat", unique=True,
              sqlite_where=text("cancelled_at IS NULL"), postgresql_where=text("cancelled_at IS NULL")),
        Index("uq_booking_request", "request_id", unique=True,
              sqlite_where=text("cancelled_at IS NULL"), postgresql_where=text("cancelled_at IS NULL")),
        Index("ix_booking_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("consultation_request.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seat: Mapped[int] = mapped_column(default=0)
    booked_by: Mapped[str] = mapped_column(String(8))  # "staff" or "patient"
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    location: Mapped[Location] = relationship()
    request: Mapped[ConsultationRequest] = relationship(back_populates="bookings")
