"""The clinic dashboard's numbers: aggregates per week and for a chosen date range.

Only counts and durations ever leave this module: no query here reads a name or a contact detail.

Periods are days in the clinic's time zone (weeks start on Monday), turned into UTC instants here, so a
week is right across a daylight-saving change. Each query puts rows into periods with a CASE over those
instants and counts in SQL (the same SQL on SQLite and PostgreSQL; grouped in an outer query because
PostgreSQL does not treat two copies of a parameterised CASE as the same GROUP BY expression). Medians
are the exception: SQLite has no median or percentile aggregate, so SQL gives each request's first
contact attempt and first move to ``scheduled`` (MIN per request) and Python takes the median.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app.casework.status import OUTCOMES, STATUSES
from app.models import CATEGORY_RANK, ConsultationRequest, EmergencyScreenCount, RequestEvent, Screening

CATEGORIES = tuple(CATEGORY_RANK)  # emergency, likely, possible, unlikely
WEEKS = 12
MIN_YEAR, MAX_YEAR = 2000, 2100  # beyond these a date is a typing slip (and far years overflow a datetime)


@dataclass(frozen=True)
class Period:
    """Whole days in the clinic's time zone, from ``first_day`` to ``last_day`` inclusive."""

    first_day: date
    last_day: date
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive


def period(first_day: date, last_day: date, tz: ZoneInfo) -> Period:
    """The period covering ``first_day`` to ``last_day`` (inclusive) in ``tz``."""
    def midnight(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)

    return Period(first_day, last_day, midnight(first_day), midnight(last_day + timedelta(days=1)))


def recent_weeks(today: date, tz: ZoneInfo, count: int = WEEKS) -> list[Period]:
    """The last ``count`` weeks, Monday to Sunday, oldest first; the last one holds ``today``."""
    monday = today - timedelta(days=today.weekday())
    firsts = [monday - timedelta(weeks=n) for n in range(count - 1, -1, -1)]
    return [period(first, first + timedelta(days=6), tz) for first in firsts]


@dataclass
class Stats:
    """What the dashboard shows for one period."""

    period: Period
    screenings: int = 0
    screenings_with_request: int = 0  # of the screenings completed in the period
    requests: int = 0  # requests sent in the period
    screenings_by_category: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    requests_by_category: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    requests_by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    # Closed requests sent in the period, by how they ended (the outcome staff chose when closing).
    requests_by_outcome: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    to_contact: list[float] = field(default_factory=list)  # hours from request to first contact attempt
    to_scheduled: list[float] = field(default_factory=list)  # hours from request to first 'scheduled'
    emergency_screens: int = 0  # sent to emergency care from the safety page (the anonymous daily count)

    @property
    def share(self) -> float | None:
        """The share of the period's screenings that led to a request (None without screenings)."""
        return self.screenings_with_request / self.screenings if self.screenings else None

    @property
    def emergencies(self) -> int:
        """Screenings whose result was 'get medical help now'."""
        return self.screenings_by_category["emergency"]

    @property
    def median_hours_to_contact(self) -> float | None:
        """Median hours from request to first contact attempt, over the requests that have one."""
        return statistics.median(self.to_contact) if self.to_contact else None

    @property
    def median_hours_to_scheduled(self) -> float | None:
        """Median hours from request to being scheduled, over the requests that were."""
        return statistics.median(self.to_scheduled) if self.to_scheduled else None


def _bucket(column: Any, periods: Sequence[Period]) -> Any:
    """The index of the period a timestamp falls in (periods are contiguous and in order)."""
    return case(*((column < p.end, index) for index, p in enumerate(periods))).label("bucket")


def _in_range(column: Any, periods: Sequence[Period]) -> Any:
    return and_(column >= periods[0].start, column < periods[-1].end)


def collect(session: Session, periods: Sequence[Period]) -> list[Stats]:
    """The dashboard's numbers for each of ``periods`` (contiguous, oldest first)."""
    stats = [Stats(p) for p in periods]
    screened = (
        select(_bucket(Screening.created_at, periods), Screening.category.label("category"),
               ConsultationRequest.id.label("request_id"))
        .outerjoin(ConsultationRequest, ConsultationRequest.screening_id == Screening.id)
        .where(_in_range(Screening.created_at, periods)).subquery()
    )
    for bucket, category, count, with_request in session.execute(
        select(screened.c.bucket, screened.c.category, func.count(), func.count(screened.c.request_id))
        .group_by(screened.c.bucket, screened.c.category)
    ):
        target = stats[bucket]
        target.screenings += count
        target.screenings_with_request += with_request
        target.screenings_by_category[category] = target.screenings_by_category.get(category, 0) + count
    sent = (
        select(_bucket(ConsultationRequest.created_at, periods), ConsultationRequest.category.label("category"),
               ConsultationRequest.status.label("status"), ConsultationRequest.outcome.label("outcome"))
        .where(_in_range(ConsultationRequest.created_at, periods)).subquery()
    )
    for bucket, category, status, outcome, count in session.execute(
        select(sent.c.bucket, sent.c.category, sent.c.status, sent.c.outcome, func.count())
        .group_by(sent.c.bucket, sent.c.category, sent.c.status, sent.c.outcome)
    ):
        target = stats[bucket]
        target.requests += count
        target.requests_by_category[category] = target.requests_by_category.get(category, 0) + count
        target.requests_by_status[status] = target.requests_by_status.get(status, 0) + count
        if status == "closed" and outcome:
            target.requests_by_outcome[outcome] = target.requests_by_outcome.get(outcome, 0) + count
    _add_waits(session, periods, stats)
    firsts = [p.first_day for p in periods]
    for day, count in session.execute(
        select(EmergencyScreenCount.day, EmergencyScreenCount.count)
        .where(EmergencyScreenCount.day >= periods[0].first_day, EmergencyScreenCount.day <= periods[-1].last_day)
    ):
        stats[bisect_right(firsts, day) - 1].emergency_screens += count
    return stats


def _add_waits(session: Session, periods: Sequence[Period], stats: list[Stats]) -> None:
    """Each request's first contact attempt and first move to 'scheduled' (MIN in SQL), in hours."""
    first_contact = func.min(case((RequestEvent.kind == "contact_attempt", RequestEvent.created_at)))
    first_scheduled = func.min(case((and_(RequestEvent.kind == "status", RequestEvent.status_to == "scheduled"),
                                     RequestEvent.created_at)))
    starts = [p.start for p in periods]
    for created, contacted, scheduled in session.execute(
        select(ConsultationRequest.created_at, first_contact, first_scheduled)
        .outerjoin(RequestEvent, RequestEvent.request_id == ConsultationRequest.id)
        .where(_in_range(ConsultationRequest.created_at, periods))
        .group_by(ConsultationRequest.id, ConsultationRequest.created_at)
    ):
        target = stats[bisect_right(starts, created) - 1]
        if contacted is not None:
            target.to_contact.append(_hours(created, contacted))
        if scheduled is not None:
            target.to_scheduled.append(_hours(created, scheduled))


def _hours(since: datetime, until: datetime) -> float:
    return max(0.0, (_utc(until) - _utc(since)).total_seconds() / 3600)


def _utc(moment: datetime) -> datetime:
    """MIN over a CASE may come back without the column type's time zone on some drivers: it is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class DateRange:
    """The chosen range and any problems with what was typed (then the default range is used)."""

    first_day: date
    last_day: date
    typed_from: str
    typed_to: str
    errors: dict[str, str]


def _read_day(text: str, label: str, errors: dict[str, str], key: str) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[key] = f"{label} must be a real date, like 2026-11-24"
        return None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        errors[key] = f"{label} must be between the years {MIN_YEAR} and {MAX_YEAR}"
        return None
    return day


def parse_range(args: Mapping[str, str], default_first: date, default_last: date) -> DateRange:
    """The range from ``from`` and ``to`` (YYYY-MM-DD, either may be left empty); never raises."""
    typed_from, typed_to = args.get("from", "").strip()[:20], args.get("to", "").strip()[:20]
    errors: dict[str, str] = {}
    first = _read_day(typed_from, "The start date", errors, "from") or default_first
    last = _read_day(typed_to, "The end date", errors, "to") or default_last
    if not errors and first > last:
        errors["to"] = "The end date must be the same as or after the start date"
    if errors:
        first, last = default_first, default_last
    return DateRange(first, last, typed_from, typed_to, errors)
