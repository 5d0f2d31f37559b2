"""The callback promise in working days and hours: forward (due time) and back (overdue cutoff) agree."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.platform.working_time import parse_working_hours

LA = ZoneInfo("America/Los_Angeles")
WEEK = parse_working_hours("Mon-Fri", "08:00-17:00", "2026-12-25", LA)


def la(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LA)


@pytest.mark.parametrize(("sent", "days", "due"), [
    ("2026-12-01 10:00", 1, "2026-12-02 10:00"),  # Tuesday morning: Wednesday morning
    ("2026-12-04 18:30", 1, "2026-12-07 17:00"),  # Friday evening: the clock starts Monday 08:00
    ("2026-12-05 11:00", 2, "2026-12-08 17:00"),  # Saturday: Monday and Tuesday
    ("2026-12-01 16:00", 2, "2026-12-03 16:00"),
    ("2026-12-24 09:00", 1, "2026-12-28 09:00"),  # Christmas is closed, then a weekend
    ("2026-12-01 06:00", 0, "2026-12-01 08:00"),  # "today": at opening
])
def test_due_times_a_front_desk_would_expect(sent: str, days: int, due: str) -> None:
    assert WEEK.due_at(la(sent), days) == la(due).astimezone(UTC)


moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=UTC))


@settings(max_examples=400, deadline=None)
@given(sent=moments, now=moments, days=st.integers(min_value=0, max_value=5))
def test_overdue_cutoff_agrees_with_due_time(sent: datetime, now: datetime, days: int) -> None:
    assert (sent <= WEEK.overdue_cutoff(now, days)) == (WEEK.due_at(sent, days) <= now)


@pytest.mark.parametrize(("days", "hours", "closed"), [
    ("", "08:00-17:00", ""), ("Funday", "08:00-17:00", ""), ("Mon-Fri", "8am-5pm", ""),
    ("Mon-Fri", "17:00-08:00", ""), ("Mon-Fri", "25:00-26:00", ""), ("Mon-Fri", "08:00-17:00", "12/25/2026"),
])
def test_unusable_settings_stop_the_app(days: str, hours: str, closed: str) -> None:
    with pytest.raises(ValueError):
        parse_working_hours(days, hours, closed, LA)


def test_weekend_clinic_and_day_ranges_wrap() -> None:
    week = parse_working_hours("Sat-Mon", "09:00-13:00", "", LA)
    assert week.days == {5, 6, 0}
    assert week.due_at(la("2026-12-02 10:00"), 1) == la("2026-12-05 13:00").astimezone(UTC)
    assert date(2026, 12, 5).weekday() == 5
    assert week.day_length == timedelta(hours=4)
