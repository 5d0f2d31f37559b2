"""Booking, moving and cancelling a consultation time. No Flask; functions never commit.

Two people can never hold the same time: the ``booking`` table's partial unique index allows one live row per
(location, start, seat), and a request has at most one live booking. A booking takes the lowest seat free;
when another transaction took it first, the insert fails inside a savepoint and the next seat is tried, and
when none is left the time is gone (``TimeTaken``). Booking sets the request to scheduled (its timeline says
so) and queues the confirmation and reminders; cancelling or moving frees the time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.casework.work import InvalidChange, StaleRequest, change_status, schedule_visit
from app.intake.links import new_link, use_link
from app.messaging.patient import MessagingSettings, after_status_change, send_link
from app.models import Booking, ConsultationRequest, Location, OutboxMessage, StaffUser
from app.platform.i18n_marker import N_, PatientMessageError
from app.scheduling.times import BookingSettings, FreeTime, free_times


class TimeTaken(PatientMessageError, InvalidChange):
    """The time is no longer free (someone else booked it, or it was never offered)."""

    def __init__(self) -> None:
        super().__init__(N_("That time has just been booked by someone else. Choose another time."))


def _seat(session: Session, location_id: int, starts_at: datetime, seats: int) -> int | None:
    used = set(session.scalars(select(Booking.seat).where(Booking.location_id == location_id,
                                                          Booking.starts_at == starts_at,
                                                          Booking.cancelled_at.is_(None))))
    return next((seat for seat in range(seats) if seat not in used), None)


def book(session: Session, req: ConsultationRequest, location_id: int, starts_at: datetime, *, tz: ZoneInfo,
         settings: BookingSettings, messaging: MessagingSettings, now: datetime,
         actor: StaffUser | None, expected_version: int | None = None) -> Booking:
    """Book ``starts_at`` at the location for ``req`` (moving a booking it has), if that time is free.

    ``actor`` None: the patient booked it, with the patient's notice; staff may book at short notice, and name
    the version of the request they saw (``expected_version``).
    """
    if expected_version is not None and req.version != expected_version:
        raise StaleRequest
    day = starts_at.astimezone(tz).date()
    offered = next((t for t in free_times(session, tz, now=now, settings=settings, location_id=location_id, day=day,
                                          notice=timedelta(0) if actor else None)
                    if t.starts_at == starts_at), None)
    if offered is None:
        raise TimeTaken
    if not req.is_open:
        raise InvalidChange("This request is closed; reopen it before booking a time")
    before = (req.status, req.scheduled_for)
    for old in req.bookings:
        if old.cancelled_at is None:
            old.cancelled_at = now  # moving: the old time is free again
    session.flush()
    booking = _insert(session, req, offered, now, actor)
    location = session.get(Location, location_id)
    schedule_visit(req, offered.starts_at, actor=actor, now=now,
                   data={"booking": booking.id, "location": location.name if location else "",
                         "booked_by": booking.booked_by})
    after_status_change(session, req, before, messaging, now, actor)
    return booking


def _insert(session: Session, req: ConsultationRequest, offered: FreeTime, now: datetime,
            actor: StaffUser | None) -> Booking:
    for _ in range(offered.seats):
        seat = _seat(session, offered.location_id, offered.starts_at, offered.seats)
        if seat is None:
            break
        booking = Booking(request_id=req.id, location_id=offered.location_id, starts_at=offered.starts_at,
                          ends_at=offered.ends_at, seat=seat, booked_by="staff" if actor else "patient",
                          created_by_id=actor.id if actor else None, created_at=now)
        try:
            with session.begin_nested():
                session.add(booking)
        except IntegrityError:
            continue  # another transaction took this seat between the look and the insert
        req.bookings.append(booking)
        return booking
    raise TimeTaken


def book_by_link(session: Session, token: str, location_id: int, starts_at: datetime, *, tz: ZoneInfo,
                 settings: BookingSettings, messaging: MessagingSettings, now: datetime) -> Booking | None:
    """The patient books through a booking link; the link is used up. None: the link is unknown, expired or used."""
    req = use_link(session, token, "booking", now)
    if req is None:
        return None
    return book(session, req, location_id, starts_at, tz=tz, settings=settings, messaging=messaging, now=now,
                actor=None)


def cancel(session: Session, req: ConsultationRequest, *, messaging: MessagingSettings, now: datetime,
           actor: StaffUser, expected_version: int) -> None:
    """Cancel the booked time (the request goes back to in progress) and the messages not yet sent about it."""
    if req.active_booking is None:
        if req.version != expected_version:
            raise StaleRequest
        raise InvalidChange("This request has no booked time to cancel")
    before = (req.status, req.scheduled_for)
    change_status(req, "in_progress", actor=actor, now=now, expected_version=expected_version,
                  note="Booked time cancelled")
    after_status_change(session, req, before, messaging, now, actor)


def booking_link(session: Session, req: ConsultationRequest, *, now: datetime, settings: BookingSettings,
                 actor: StaffUser | None) -> str:
    """A link for the patient to book a time for ``req`` (no commit); returns its token."""
    if not req.is_open:
        raise InvalidChange("This request is closed; reopen it before sending a booking link")
    return new_link(session, req, "booking", now=now, valid_for=timedelta(days=settings.link_days),
                    actor_id=actor.id if actor else None)


def send_booking_link(session: Session, req: ConsultationRequest, *, settings: BookingSettings,
                      messaging: MessagingSettings, now: datetime, actor: StaffUser, expected_version: int,
                      link_url: Callable[[str], str]) -> OutboxMessage:
    """Make a booking link and queue it to the patient (text if allowed, else email)."""
    if not settings.links:
        raise InvalidChange("This clinic books consultations by staff only (BOOKING_BY=staff)")
    if not req.is_open:
        raise InvalidChange("This request is closed; reopen it before sending a booking link")
    return send_link(session, req, messaging, now, actor, purpose="booking", expected_version=expected_version,
                     valid_for=timedelta(days=settings.link_days), link_url=link_url)


def bookings_on(session: Session, day: date, tz: ZoneInfo) -> list[Booking]:
    """The live bookings of ``day`` in the clinic's zone, by location name, then time and seat."""
    start = datetime.combine(day, time.min, tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tz)
    return list(session.scalars(
        select(Booking).join(Location)
        .where(Booking.cancelled_at.is_(None), Booking.starts_at >= start, Booking.starts_at < end)
        .order_by(Location.name, Booking.starts_at, Booking.seat)
    ))
