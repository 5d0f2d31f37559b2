"""The iCalendar invitation attached to a visit's confirmation email (RFC 5545, with ``icalendar``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from icalendar import Alarm, Calendar, Event, vCalAddress, vText

if TYPE_CHECKING:
    from app.models import ConsultationRequest
    from app.platform.clinic import Clinic


def visit_invitation(req: ConsultationRequest, clinic: Clinic, length: timedelta, now: datetime, organizer: str,
                     summary: str) -> str:
    """A one-event calendar (METHOD:REQUEST) for the visit, with a reminder the day before.

    The event's UID stays the same for a request, so a moved visit updates the event in the patient's calendar
    instead of adding a second one. It says where and when, and the clinic's number; nothing about health.
    """
    assert req.scheduled_for is not None  # noqa: S101 - only called for a booked visit
    calendar = Calendar()
    calendar.add("prodid", "-//MILD self-screen//visit invitation//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", f"visit-{req.reference}@mild-self-screen")
    event.add("dtstamp", now)
    event.add("sequence", int(now.timestamp()))  # later invitations replace earlier ones
    start = req.scheduled_for.astimezone(clinic.timezone)
    event.add("dtstart", start)
    booking = req.active_booking
    event.add("dtend", start + (booking.ends_at - booking.starts_at if booking else length))
    event.add("summary", summary)
    event.add("location", f"{booking.location.name}, {booking.location.address}" if booking else clinic.address)
    event.add("description", f"Reference {req.reference}. If you cannot come, call {clinic.phone}.")
    if organizer:
        event["organizer"] = vCalAddress(f"mailto:{organizer}")
        event["organizer"].params["cn"] = vText(clinic.name)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", summary)
    alarm.add("trigger", timedelta(days=-1))
    event.add_component(alarm)
    calendar.add_component(event)
    calendar.add_missing_timezones()  # a VTIMEZONE for the clinic's zone, so calendars place it right
    return calendar.to_ical().decode("utf-8")
