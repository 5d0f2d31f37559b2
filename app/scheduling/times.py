"""The times a consultation can be booked: the weekly template, less exceptions and times already taken.

Template hours are wall-clock times in the clinic's zone. Each time is made on its day and turned into an
instant with ``zoneinfo``; a wall time that does not exist (the hour skipped when clocks go forward) is not
offered, and one that happens twice (clocks go back) is offered once, at its first occurrence. A visit's end
is its start plus its length in real minutes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Booking, Location, ScheduleException, WeeklyHours

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
VISIT_MINUTES = range(10, 241)  # a visit is 10 minutes to 4 hours long
SEATS = range(1, 21)  # consultations at the same time (several doctors or rooms)


class ScheduleError(ValueError):
    """A template row, exception, location or setting cannot be used; the text says why (``setting``: which)."""

    def __init__(self, message: str, setting: str = "") -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class BookingSettings:
    """Who may book and how far ahead (config: BOOKING_*)."""

    who: str = "link"  # "staff": staff only; "link": also patients through a link; "after_request": also right
    # after sending a request whose category is in ``categories``
    categories: tuple[str, ...] = ()
    days_ahead: int = 28  # times are offered from today to this many days ahead
    notice: timedelta = timedelta(hours=24)  # a patient books at least this long before the visit
    link_days: int = 7  # a booking link expires after this many days

    @property
    def links(self) -> bool:
        """Staff may send a patient a booking link."""
        return self.who in ("link", "after_request")

    def right_after_request(self, category: str | None) -> bool:
        """A patient whose request has ``category`` may book right after sending it."""
        return self.who == "after_request" and category in self.categories


BOOKERS = ("staff", "link", "after_request")
BOOKABLE_CATEGORIES = ("likely", "possible", "unlikely")  # never "emergency": that patient needs care now


def parse_booking_settings(config: Mapping[str, Any]) -> BookingSettings:
    """The booking settings from configuration; ``ScheduleError`` names the first wrong one."""
    who = str(config.get("BOOKING_BY") or "link")
    if who not in BOOKERS:
        raise ScheduleError(f"BOOKING_BY={who} is not known: use staff, link or after_request", "BOOKING_BY")
    categories = tuple(c.strip() for c in str(config.get("BOOKING_AFTER_REQUEST_CATEGORIES") or "").split(",")
                       if c.strip())
    wrong = [c for c in categories if c not in BOOKABLE_CATEGORIES]
    if wrong:
        raise ScheduleError(f"BOOKING_AFTER_REQUEST_CATEGORIES may list {', '.join(BOOKABLE_CATEGORIES)}; "
                            f"not {', '.join(wrong)}", "BOOKING_AFTER_REQUEST_CATEGORIES")
    numbers = {}
    for name, default, low, high in (("BOOKING_DAYS_AHEAD", 28, 1, 365), ("BOOKING_NOTICE_HOURS", 24, 0, 24 * 14),
                                     ("BOOKING_LINK_DAYS", 7, 1, 60)):
        try:
            numbers[name] = int(str(config.get(name) or default))
        except ValueError:
            raise ScheduleError(f"{name} must be a whole number", name) from None
        if not low <= numbers[name] <= high:
            raise ScheduleError(f"{name} must be from {low} to {high}", name)
    return BookingSettings(who=who, categories=categories, days_ahead=numbers["BOOKING_DAYS_AHEAD"],
                           notice=timedelta(hours=numbers["BOOKING_NOTICE_HOURS"]),
                           link_days=numbers["BOOKING_LINK_DAYS"])


@dataclass(frozen=True)
class FreeTime:
    """A time a consultation can be booked at a location (``starts_at`` and ``ends_at`` in UTC)."""

    location_id: int
    starts_at: datetime
    ends_at: datetime
    seats: int


def wall_time_exists(local: datetime, tz: ZoneInfo) -> bool:
    """``local`` (naive, wall clock) happens in ``tz``: it is not in the hour skipped when clocks go forward."""
    aware = local.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local


def _covers(exception: ScheduleException, day: date, start: time, end: time) -> bool:
    if not exception.first_day <= day <= exception.last_day:
        return False
    if exception.start is None or exception.end is None:
        return True
    return exception.start < end and start < exception.end


def free_times(session: Session, tz: ZoneInfo, *, now: datetime, settings: BookingSettings,
               location_id: int | None = None, day: date | None = None,
               notice: timedelta | None = None) -> list[FreeTime]:
    """Every free time from ``now`` (plus the notice) to ``settings.days_ahead`` days ahead, earliest first.

    ``location_id`` and ``day`` narrow it; ``notice`` overrides the patient's notice (staff book at short notice).
    """
    today = now.astimezone(tz).date()
    first, last = today, today + timedelta(days=settings.days_ahead)
    if day is not None:
        if not first <= day <= last:
            return []
        first = last = day
    earliest = now + (settings.notice if notice is None else notice)
    rows_query = (select(WeeklyHours).join(Location).where(Location.active.is_(True))
                  .order_by(WeeklyHours.location_id, WeeklyHours.start))
    exceptions_query = select(ScheduleException).where(ScheduleException.last_day >= first,
                                                       ScheduleException.first_day <= last)
    if location_id is not None:
        rows_query = rows_query.where(WeeklyHours.location_id == location_id)
        exceptions_query = exceptions_query.where((ScheduleException.location_id == location_id)
                                                  | ScheduleException.location_id.is_(None))
    rows = session.scalars(rows_query).all()
    exceptions = session.scalars(exceptions_query).all()
    span_start = datetime.combine(first, time.min, tz) - timedelta(days=1)
    span_end = datetime.combine(last, time.max, tz) + timedelta(days=1)
    taken: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for booking in session.execute(
        select(Booking.location_id, Booking.starts_at, Booking.ends_at)
        .where(Booking.cancelled_at.is_(None), Booking.starts_at < span_end, Booking.ends_at > span_start)
    ):
        taken[booking.location_id].append((booking.starts_at, booking.ends_at))
    found: list[FreeTime] = []
    for offset in range((last - first).days + 1):
        current = first + timedelta(days=offset)
        for row in rows:
            if row.weekday != current.weekday():
                continue
            length = timedelta(minutes=row.visit_minutes)
            closing = datetime.combine(current, row.end)
            wall = datetime.combine(current, row.start)
            while wall + length <= closing:
                if wall_time_exists(wall, tz) and not any(
                        (e.location_id in (None, row.location_id)) and _covers(e, current, wall.time(),
                                                                               (wall + length).time())
                        for e in exceptions):
                    starts = wall.replace(tzinfo=tz).astimezone(UTC)
                    ends = starts + length
                    busy = sum(1 for s, e in taken[row.location_id] if s < ends and starts < e)
                    if starts >= earliest and busy < row.seats:
                        found.append(FreeTime(row.location_id, starts, ends, row.seats))
                wall += length
    found.sort(key=lambda t: (t.starts_at, t.location_id))
    return found


def times_by_day(times: list[FreeTime], tz: ZoneInfo) -> dict[date, list[FreeTime]]:
    """``times`` grouped by their day in the clinic's zone, days in order."""
    days: dict[date, list[FreeTime]] = {}
    for t in times:
        days.setdefault(t.starts_at.astimezone(tz).date(), []).append(t)
    return days


def add_hours(session: Session, location: Location, weekday: int, start: time, end: time, visit_minutes: int,
              seats: int) -> WeeklyHours:
    """Add a row to the weekly template (no commit); refuse one that is unusable or overlaps another."""
    if weekday not in range(7):
        raise ScheduleError("Choose a day of the week")
    if visit_minutes not in VISIT_MINUTES:
        raise ScheduleError(f"A visit must be {VISIT_MINUTES.start} to {VISIT_MINUTES.stop - 1} minutes long")
    if seats not in SEATS:
        raise ScheduleError(f"Enter {SEATS.start} to {SEATS.stop - 1} visits at the same time")
    if datetime.combine(date.min, start) + timedelta(minutes=visit_minutes) > datetime.combine(date.min, end):
        raise ScheduleError("The hours must end after they start, with room for at least one visit")
    for other in session.scalars(select(WeeklyHours).where(WeeklyHours.location_id == location.id,
                                                           WeeklyHours.weekday == weekday)):
        if other.start < end and start < other.end:
            raise ScheduleError(f"These hours overlap {WEEKDAYS[weekday]} {other.start:%H:%M} to "
                                f"{other.end:%H:%M} at {location.name}; remove those first")
    row = WeeklyHours(location_id=location.id, weekday=weekday, start=start, end=end, visit_minutes=visit_minutes,
                      seats=seats)
    session.add(row)
    return row


def add_exception(session: Session, location: Location | None, first_day: date, last_day: date,
                  start: time | None, end: time | None, reason: str) -> ScheduleException:
    """Close days (or some hours of them) to booking (no commit). Bookings already made are kept."""
    reason = " ".join(reason.split())
    if not reason or len(reason) > 80:
        raise ScheduleError("Enter a reason of 80 characters or fewer, for example Holiday")
    if last_day < first_day:
        raise ScheduleError("The last day must be the same as or after the first day")
    if (start is None) != (end is None) or (start is not None and end is not None and end <= start):
        raise ScheduleError("Enter both times, the second after the first, or neither for whole days")
    exception = ScheduleException(location_id=location.id if location else None, first_day=first_day,
                                  last_day=last_day, start=start, end=end, reason=reason)
    session.add(exception)
    return exception


def add_location(session: Session, name: str, address: str, phone: str) -> Location:
    """Add a place consultations happen (no commit)."""
    name, address, phone = (" ".join(v.split()) for v in (name, address, phone))
    if not name or len(name) > 80:
        raise ScheduleError("Enter the location's name, 80 characters or fewer")
    if not address or len(address) > 200:
        raise ScheduleError("Enter the location's address, 200 characters or fewer")
    if len(phone) > 40:
        raise ScheduleError("Enter a phone number of 40 characters or fewer")
    location = Location(name=name, address=address, phone=phone, active=True)
    session.add(location)
    return location
