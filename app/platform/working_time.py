"""When a request is due: the clinic's callback promise counted in its working days and hours. No Flask.

The clock runs only while the clinic is open. A request sent at 10:00 on a Tuesday with a one-day
promise and 08:00-17:00 hours is due at 10:00 on Wednesday; one sent on a Friday evening starts the
clock at Monday's opening. ``due_at`` goes forward from a submission; ``overdue_cutoff`` goes back
from now, so the queue can find every overdue request with one range on ``created_at`` (an index
column) instead of computing each row's due time in SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_LIMIT_DAYS = 800  # two years of closed days in a row means the settings are wrong, not a long weekend


@dataclass(frozen=True)
class WorkingWeek:
    """The days and hours the front desk works, in the clinic's time zone, and the dates it is closed."""

    days: frozenset[int]  # Monday = 0
    opens: time
    closes: time
    timezone: ZoneInfo
    closed_dates: frozenset[date] = frozenset()

    @property
    def day_length(self) -> timedelta:
        """One working day as a length of time (e.g. 9 hours for 08:00-17:00)."""
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)

    def is_open_on(self, day: date) -> bool:
        """Whether the front desk works on ``day`` (a working weekday that is not a closed date)."""
        return self._open_on(day)

    def _open_on(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.closed_dates

    def _hours(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.opens, tzinfo=self.timezone),
                datetime.combine(day, self.closes, tzinfo=self.timezone))

    def due_at(self, start: datetime, working_days: int) -> datetime:
        """``start`` plus ``working_days`` days of open time (in UTC)."""
        remaining = working_days * self.day_length
        moment = start.astimezone(self.timezone)
        for _ in range(SEARCH_LIMIT_DAYS):
            day = moment.date()
            if self._open_on(day):
                opens, closes = self._hours(day)
                moment = max(moment, opens)
                if moment <= closes:
                    if remaining <= closes - moment:
                        return (moment + remaining).astimezone(UTC)
                    remaining -= closes - moment
            moment = datetime.combine(day + timedelta(days=1), time.min, tzinfo=self.timezone)
        raise ValueError("the clinic is never open in the working-hours settings")

    def overdue_cutoff(self, now: datetime, working_days: int) -> datetime:
        """The latest submission time whose due time has passed: sent at or before it means overdue."""
        remaining = working_days * self.day_length
        moment = now.astimezone(self.timezone)
        for _ in range(SEARCH_LIMIT_DAYS):
            day = moment.date()
            if self._open_on(day):
                opens, closes = self._hours(day)
                moment = min(moment, closes)
                if moment >= opens:
                    if remaining <= moment - opens:
                        return (moment - remaining).astimezone(UTC)
                    remaining -= moment - opens
            moment = datetime.combine(day, time.min, tzinfo=self.timezone) - timedelta(microseconds=1)
        raise ValueError("the clinic is never open in the working-hours settings")


def parse_working_hours(days_text: str, hours_text: str, closed_text: str, timezone: ZoneInfo) -> WorkingWeek:
    """Read ``Mon-Fri`` (or ``Mon,Tue,Thu``), ``08:00-17:00`` and ``2026-12-25 2027-01-01``; ValueError if unusable."""
    days: set[int] = set()
    for part in filter(None, re.split(r"[,\s]+", days_text.strip().lower())):
        first, _, last = part.partition("-")
        if first[:3] not in DAY_NAMES or (last and last[:3] not in DAY_NAMES):
            raise ValueError(f"CLINIC_WORKING_DAYS: {part!r} is not a day like Mon or a range like Mon-Fri")
        start = DAY_NAMES.index(first[:3])
        end = DAY_NAMES.index(last[:3]) if last else start
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)])
    if not days:
        raise ValueError("CLINIC_WORKING_DAYS must name at least one day, like Mon-Fri")
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", hours_text, re.ASCII)
    if not match:
        raise ValueError("CLINIC_WORKING_HOURS must look like 08:00-17:00")
    try:
        opens = time(int(match.group(1)), int(match.group(2)))
        closes = time(int(match.group(3)), int(match.group(4)))
    except ValueError as exc:
        raise ValueError("CLINIC_WORKING_HOURS must look like 08:00-17:00") from exc
    if closes <= opens:
        raise ValueError("CLINIC_WORKING_HOURS must close after it opens")
    return WorkingWeek(frozenset(days), opens, closes, timezone, frozenset(_dates(closed_text)))


def _dates(text: str) -> Iterable[date]:
    for part in filter(None, re.split(r"[,\s]+", text.strip())):
        try:
            yield date.fromisoformat(part)
        except ValueError as exc:
            raise ValueError(f"CLINIC_CLOSED_DATES: {part!r} is not a date like 2026-12-25") from exc
