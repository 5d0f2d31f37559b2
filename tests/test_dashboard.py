"""The clinic dashboard: its numbers equal counts taken straight from seeded data; no patient text; access; dates."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.casework.dashboard import parse_range, period, recent_weeks
from app.casework.dashboard_charts import Series, bar_chart, nice_ceiling
from app.casework.work import change_status, log_contact
from app.extensions import db
from app.models import ConsultationRequest, RequestEvent, Screening, StaffUser, utcnow
from app.screening import assess
from tests.factories import CATEGORY_ANSWERS, login, make_staff, seed_request

TZ = ZoneInfo("America/Los_Angeles")  # the clinic's time zone in tests (config default)
SENTINELS = {"first_name": "Zebulonsentinel", "last_name": "Quagmiresentinel", "email": "sentinel@example.org",
             "message": "Sentinelmessage please call", "phone": "+14155550177"}
CATEGORIES = ("emergency", "likely", "possible", "unlikely")
STATUSES = ("new", "in_progress", "scheduled", "closed")


class Tables(HTMLParser):
    """Every table on a page as {caption: {row heading: [cells]}} (and its column headings under '')."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[str]]] = {}
        self._caption = self._cell = None
        self._row: list[str] | None = None
        self._current: dict[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._current, self._caption = {}, ""
        elif tag == "caption":
            self._cell = "caption"
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td"):
            self._cell = ""

    def handle_data(self, data: str) -> None:
        if self._cell == "caption":
            self._caption = (self._caption or "") + data
        elif self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._cell = None
        elif tag in ("th", "td") and self._row is not None and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._current is not None:
            key = self._row[0] if self._row and self._row[0] not in ("Week starting", "Category", "Status") else ""
            self._current[key] = self._row[1:] if key else self._row
            self._row = None
        elif tag == "table" and self._current is not None:
            self.tables[(self._caption or "").strip()] = self._current
            self._current = None


def tables(html: str) -> dict[str, dict[str, list[str]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def signed_in(app: Flask, role: str = "clinician") -> FlaskClient:
    client = app.test_client()
    login(client, make_staff(app, role))
    return client


def add_screening(app: Flask, category: str, at: datetime) -> None:
    """A screening that never led to a request."""
    answers = CATEGORY_ANSWERS[category]
    assessment = assess(answers)
    with app.app_context():
        db.session.add(Screening(answers=answers, assessment=assessment.to_dict(), category=category,
                                 score=assessment.score, cook_score=assessment.cook_score,
                                 rule_version=assessment.rule_version, created_at=at))
        db.session.commit()


def work(app: Flask, reference: str, staff_id: int, *, contact_after: float | None = None,
         schedule_after: float | None = None, close_after: float | None = None) -> None:
    """Contact attempts and status changes on a request, ``*_after`` hours after it was sent."""
    with app.app_context():
        req = db.session.scalars(select(ConsultationRequest).where(ConsultationRequest.reference == reference)).one()
        actor = db.session.get(StaffUser, staff_id)
        sent = req.created_at
        if contact_after is not None:
            log_contact(req, method="phone", outcome="voicemail", note=None, actor=actor,
                        now=sent + timedelta(hours=contact_after), expected_version=req.version)
            db.session.flush()
            log_contact(req, method="phone", outcome="reached", note=None, actor=actor,  # a later one: not first
                        now=sent + timedelta(hours=contact_after + 30), expected_version=req.version)
            db.session.flush()
        if schedule_after is not None:
            change_status(req, "scheduled", actor=actor, now=sent + timedelta(hours=schedule_after),
                          expected_version=req.version, scheduled_for=sent + timedelta(days=20))
            db.session.flush()
        if close_after is not None:
            change_status(req, "closed", actor=actor, now=sent + timedelta(hours=close_after),
                          expected_version=req.version, outcome="not_a_candidate")
        db.session.commit()


@pytest.fixture
def seeded(app: Flask) -> dict[str, Any]:
    """Screenings and requests over 14 weeks (two before the window), with contact attempts and status changes."""
    staff = make_staff(app, "frontdesk")
    now = utcnow()
    references = []
    for n in range(40):
        at = now - timedelta(hours=5 + n * 61)  # every few days, across 14 weeks and the DST change
        category = CATEGORIES[n % 4]
        if n % 3 == 0:
            add_screening(app, category, at)
            continue
        extra = SENTINELS if n == 1 else {"phone": f"+1415555{1000 + n:04d}", "first_name": "Pat"}
        reference = seed_request(app, category, created_at=at, **extra)
        references.append(reference)
        if n % 2 == 0:
            work(app, reference, staff["id"], contact_after=1.5 + n, schedule_after=(30 + n) if n % 4 == 0 else None)
        elif n % 5 == 0:
            work(app, reference, staff["id"], close_after=2)
    return {"references": references}


def expected(app: Flask, first: date, last: date) -> dict[str, Any]:
    """The numbers for local days ``first``..``last``, counted in Python from every stored row."""
    def inside(moment: datetime) -> bool:
        return first <= moment.astimezone(TZ).date() <= last

    with app.app_context():
        screenings = [s for s in db.session.scalars(select(Screening)) if inside(s.created_at)]
        requests = [r for r in db.session.scalars(select(ConsultationRequest)) if inside(r.created_at)]
        events = list(db.session.scalars(select(RequestEvent)))
        requested = {r.screening_id for r in db.session.scalars(select(ConsultationRequest))}
        to_contact, to_scheduled = [], []
        for r in requests:
            mine = [e for e in events if e.request_id == r.id]
            contacts = [e.created_at for e in mine if e.kind == "contact_attempt"]
            scheduled = [e.created_at for e in mine if e.kind == "status" and e.status_to == "scheduled"]
            if contacts:
                to_contact.append((min(contacts) - r.created_at).total_seconds() / 3600)
            if scheduled:
                to_scheduled.append((min(scheduled) - r.created_at).total_seconds() / 3600)
    with_request = sum(1 for s in screenings if s.id in requested)
    return {
        "screenings": len(screenings), "requests": len(requests),
        "share": f"{with_request / len(screenings) * 100:.0f}%" if screenings else "–",
        "categories": Counter(s.category for s in screenings),
        "request_categories": Counter(r.category for r in requests),
        "statuses": Counter(r.status for r in requests),
        "outcomes": Counter(r.outcome for r in requests if r.status == "closed"),
        "emergencies": sum(s.category == "emergency" for s in screenings),
        "to_contact": f"{statistics.median(to_contact):.1f} h" if to_contact else "–", "contacted": len(to_contact),
        "to_scheduled": f"{statistics.median(to_scheduled):.1f} h" if to_scheduled else "–",
        "scheduled": len(to_scheduled),
    }


def test_weekly_numbers_equal_counts_from_the_seeded_data(app: Flask, seeded: dict[str, Any]) -> None:
    page = signed_in(app).get("/staff/dashboard")
    assert page.status_code == 200
    found = tables(page.text)
    weeks = recent_weeks(utcnow().astimezone(TZ).date(), TZ)
    assert len(weeks) == 12 and all(w.first_day.weekday() == 0 for w in weeks)
    activity = found["Screenings and requests per week"]
    categories = found["Screening results by category per week"]
    waits = found["Median hours to first contact attempt and to scheduled"]
    statuses = found["Requests by status now, per week sent"]
    assert len(activity) == 12 + 1  # the heading row and one row per week
    total = 0
    for week in weeks:
        want = expected(app, week.first_day, week.last_day)
        row = f"{week.first_day:%d %b %Y}".lstrip("0")
        assert activity[row] == [str(want["screenings"]), str(want["requests"]), want["share"],
                                 str(want["emergencies"]), "0"], row  # no one sent to emergency care here
        assert categories[row] == [str(want["categories"][c]) for c in CATEGORIES], row
        assert waits[row] == [want["to_contact"], str(want["contacted"]), want["to_scheduled"],
                              str(want["scheduled"])], row
        assert statuses[row] == [str(want["statuses"][s]) for s in STATUSES], row
        total += want["screenings"]
    assert 0 < total < 40  # the window holds some, not all, of what was seeded
    assert any(waits[r][0] != "–" for r in waits if r) and any(waits[r][2] != "–" for r in waits if r)


def test_range_numbers_equal_counts_from_the_seeded_data(app: Flask, seeded: dict[str, Any]) -> None:
    today = utcnow().astimezone(TZ).date()
    first, last = today - timedelta(days=60), today - timedelta(days=9)
    page = signed_in(app, "admin").get(f"/staff/dashboard?from={first}&to={last}")
    assert page.status_code == 200
    found = tables(page.text)
    want = expected(app, first, last)
    key = found["Key figures"]
    assert key["Screenings completed"] == [str(want["screenings"])]
    assert key["Requests sent"] == [str(want["requests"])]
    assert key["Share of screenings with a request"] == [want["share"]]
    assert key["Emergency results"] == [str(want["emergencies"])]
    def requests(count: int) -> str:  # "1 request", "2 requests"
        return f"{count} request" + ("" if count == 1 else "s")

    assert key["Median time to first contact attempt"] == [
        f"{want['to_contact']} ({requests(want['contacted'])} contacted)"]
    assert key["Median time to scheduled"] == [f"{want['to_scheduled']} ({requests(want['scheduled'])} scheduled)"]
    assert key["Closed: not a candidate"] == [str(want["outcomes"]["not_a_candidate"])]
    assert key["Closed: consultation booked"] == ["0"]
    assert want["outcomes"]["not_a_candidate"] > 0
    by_category = found["Screenings and requests by category"]
    for category in CATEGORIES:
        assert by_category[category.title()] == [str(want["categories"][category]),
                                                 str(want["request_categories"][category])]
    by_status = found["Requests by status now"]
    labels = {"new": "New", "in_progress": "In progress", "scheduled": "Scheduled", "closed": "Closed"}
    assert {labels[s]: [str(want["statuses"][s])] for s in STATUSES} == {k: v for k, v in by_status.items() if k}
    assert want["screenings"] > 0 and want["contacted"] > 0


def test_no_patient_identifying_text_on_the_dashboard(app: Flask, seeded: dict[str, Any]) -> None:
    client = signed_in(app, "admin")
    today = utcnow().astimezone(TZ).date()
    for url in ("/staff/dashboard", f"/staff/dashboard?from={today - timedelta(days=400)}&to={today}"):
        text = client.get(url).text
        for value in (*SENTINELS.values(), "(415) 555-0177", "555-0177", "Pat", *seeded["references"]):
            assert value not in text, (url, value)


def test_charts_are_server_drawn_svg_images_with_titles_and_tables(app: Flask, seeded: dict[str, Any]) -> None:
    text = signed_in(app).get("/staff/dashboard").text
    assert text.count('role="img"') == 6 and text.count("<svg class=\"chart-svg\"") == 6
    assert text.count('class="chart-table"') == 6
    assert "<script" not in text.split("</head>", 1)[1] and " style=" not in text
    assert 'aria-labelledby="chart-activity-title chart-activity-desc"' in text
    assert '<title id="chart-activity-title">' in text


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("clinician", 200), ("frontdesk", 403)])
def test_dashboard_is_for_admins_and_clinicians(app: Flask, role: str, status: int) -> None:
    client = signed_in(app, role)
    assert client.get("/staff/dashboard").status_code == status
    assert ('href="/staff/dashboard"' in client.get("/staff/requests").text) is (status == 200)


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/staff/dashboard?from=2026-01-01")
    assert response.status_code == 302 and response.headers["Location"].startswith("/staff/login?next=")


@pytest.mark.parametrize(("query", "message"), [
    ("from=2026-02-30", "The start date must be a real date, like 2026-11-24"),
    ("to=yesterday", "The end date must be a real date, like 2026-11-24"),
    ("from=2026-11-20&to=2026-11-01", "The end date must be the same as or after the start date"),
    ("from=0001-01-01", "The start date must be between the years 2000 and 2100"),
    ("to=9999-12-31", "The end date must be between the years 2000 and 2100"),
    ("from=%00&to=" + "9" * 500, "The start date must be a real date"),
])
def test_a_bad_date_range_is_explained_never_a_500(app: Flask, query: str, message: str) -> None:
    response = signed_in(app).get(f"/staff/dashboard?{query}")
    assert response.status_code == 400
    assert message in response.text and "There is a problem with the dates" in response.text
    assert "Screenings and requests per week" in response.text  # the weekly view still shows


def test_parse_range_defaults_and_keeps_what_was_typed() -> None:
    default = (date(2026, 9, 7), date(2026, 11, 24))
    plain = parse_range({}, *default)
    assert (plain.first_day, plain.last_day, plain.errors) == (*default, {})
    chosen = parse_range({"from": "2026-10-01"}, *default)
    assert (chosen.first_day, chosen.last_day, chosen.errors) == (date(2026, 10, 1), date(2026, 11, 24), {})
    bad = parse_range({"from": "2026-13-01", "to": "2026-10-01"}, *default)
    assert (bad.first_day, bad.last_day, bad.typed_from, set(bad.errors)) == (*default, "2026-13-01", {"from"})


def test_weeks_follow_the_clinic_clock_across_a_dst_change() -> None:
    weeks = recent_weeks(date(2026, 11, 4), TZ)  # Wednesday; DST ended on Sunday 1 November 2026
    assert weeks[-1].first_day == date(2026, 11, 2) and weeks[0].first_day == date(2026, 8, 17)
    assert all(a.end == b.start for a, b in pairwise(weeks))
    assert weeks[-2].end - weeks[-2].start == timedelta(days=7, hours=1)  # the week with the extra hour
    day = period(date(2026, 11, 24), date(2026, 11, 24), TZ)
    assert (day.start.hour, day.end - day.start) == (8, timedelta(days=1))


def test_chart_geometry() -> None:
    assert [nice_ceiling(v) for v in (0, 0.3, 3, 7, 11, 49)] == [1, 0.5, 5, 10, 20, 50]
    chart = bar_chart("c", "t", "s", ["a", "b"], [Series("x", "cx", [3, 0]), Series("y", "cy", [5, None])],
                      stacked=True)
    assert [t[1] for t in chart.ticks] == ["0", "2", "4", "6", "8"]
    assert [(b.css, b.text) for b in chart.bars] == [("cx", "a, x: 3"), ("cy", "a, y: 5")]
    low, high = chart.bars
    assert high.y + high.height == low.y and low.y + low.height == chart.bottom  # stacked from the axis


def test_emergency_screens_are_counted_per_day_without_answers_and_shown(app: Flask) -> None:
    """A patient who stops at the emergency page leaves a count for the day, nothing else that lasts."""
    from sqlalchemy import inspect

    from app.models import EmergencyScreenCount
    from tests.journey import answer_all, post_page

    first, second = app.test_client(), app.test_client()
    answer_all(first, {"red_flags": ["saddle_numbness"]})
    post_page(first, "safety", {"red_flags": ["saddle_numbness", "fever"]})  # still the same emergency: not again
    answer_all(second, {"red_flags": ["none"]})  # not an emergency: nothing counted
    post_page(second, "safety", {"red_flags": ["bladder_bowel"]})  # changed to one: counted
    today = utcnow().astimezone(TZ).date()
    with app.app_context():
        assert [c["name"] for c in inspect(db.engine).get_columns("emergency_screen_count")] == ["day", "count"]
        assert [(row.day, row.count) for row in db.session.scalars(select(EmergencyScreenCount))] == [(today, 2)]
    client = signed_in(app, "admin")
    weekly = tables(client.get("/staff/dashboard").text)["Screenings and requests per week"]
    this_week = f"{recent_weeks(today, TZ)[-1].first_day:%d %b %Y}".lstrip("0")
    assert weekly[""][-1] == "Sent to emergency care from the warning signs page"
    assert weekly[this_week][-1] == "2"
    key = tables(client.get(f"/staff/dashboard?from={today - timedelta(days=7)}&to={today}").text)["Key figures"]
    assert key["Sent to emergency care from the warning signs page"] == ["2"]
    key = tables(client.get(f"/staff/dashboard?from={today - timedelta(days=30)}&to={today - timedelta(days=1)}"
                            ).text)["Key figures"]
    assert key["Sent to emergency care from the warning signs page"] == ["0"]


def test_one_request_is_one_request(app: Flask) -> None:
    staff = make_staff(app, "frontdesk")
    reference = seed_request(app, created_at=utcnow() - timedelta(days=3))
    work(app, reference, staff["id"], contact_after=1, schedule_after=5)
    today = utcnow().astimezone(TZ).date()
    page = signed_in(app, "admin").get(f"/staff/dashboard?from={today - timedelta(days=7)}&to={today}").text
    key = tables(page)["Key figures"]
    assert key["Median time to first contact attempt"][0].endswith("(1 request contacted)")
    assert key["Median time to scheduled"][0].endswith("(1 request scheduled)")
    assert "1 requests" not in page and "1 screenings" not in page
