"""Working a request end to end: from the patient's submission to closed, with timeline, audit and conflicts."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.models import AuditEvent, ConsultationRequest, RequestEvent
from tests.factories import login, make_staff, patient_request
from tests.journey import CONTACT, csrf_token


def version_of(html: str) -> str:
    match = re.search(r'name="version" type="hidden" value="(\d+)"', html)
    assert match
    return match.group(1)


def post_work(client: FlaskClient, reference: str, action: str, **data: Any) -> Any:
    """Load the request page (token and version), then POST one work form."""
    page = client.get(f"/staff/requests/{reference}").text
    payload = {"csrf_token": csrf_token(page), "version": version_of(page), **data}
    return client.post(f"/staff/requests/{reference}/{action}", data=payload)


def stored(app: Flask, reference: str) -> ConsultationRequest:
    with app.app_context():
        request = db.session.scalars(
            select(ConsultationRequest).where(ConsultationRequest.reference == reference)
        ).one()
        db.session.expunge(request)
        return request


def test_from_submission_to_closed(app: Flask, staff_client: FlaskClient) -> None:
    reference = patient_request(app)
    desk = make_staff(app, "frontdesk", name="Dana Desk")
    login(staff_client, desk)

    queue = staff_client.get("/staff/requests").text
    assert reference in queue and "García, Ana" in queue

    page = staff_client.get(f"/staff/requests/{reference}").text
    for text in ("Ana García", "(415) 555-0199", "Spanish (Español)", "Medicare", "Please call after 10.",
                 "Do your symptoms start or get worse when you stand or walk?", "Yes, on both sides",
                 "5 of 5", "2026.2", "Neurogenic claudication pattern", "sent the request"):
        assert text in page, text

    assert post_work(staff_client, reference, "assign", assignee=str(desk["id"])).status_code == 303
    assert post_work(staff_client, reference, "contact", method="phone", outcome="voicemail",
                     note="Left a message").status_code == 303
    assert stored(app, reference).status == "in_progress"  # the first attempt starts the work
    assert post_work(staff_client, reference, "contact", method="phone", outcome="reached").status_code == 303
    visit_day = date.today() + timedelta(days=7)
    assert post_work(staff_client, reference, "status", status="scheduled", appointment_date=visit_day.isoformat(),
                     appointment_time="10:30").status_code == 303
    request = stored(app, reference)
    assert request.status == "scheduled"
    visit = datetime.combine(visit_day, time(10, 30), tzinfo=ZoneInfo("America/Los_Angeles"))  # clinic time
    assert request.scheduled_for == visit
    assert post_work(staff_client, reference, "status", status="closed", outcome="consult_booked").status_code == 303
    assert post_work(staff_client, reference, "note", text="Patient will bring MRI CD.").status_code == 303

    request = stored(app, reference)
    assert (request.status, request.outcome, request.is_open, request.assignee_id) == (
        "closed", "consult_booked", False, desk["id"])
    page = staff_client.get(f"/staff/requests/{reference}").text
    for text in ("assigned it to Dana Desk", "left voicemail", "Left a message",
                 "moved it from in progress to scheduled", "Consultation booked", "Patient will bring MRI CD."):
        assert text in page, text
    with app.app_context():
        kinds = db.session.scalars(select(RequestEvent.kind).where(RequestEvent.request_id == request.id)
                                   .order_by(RequestEvent.id)).all()
        assert kinds == ["submitted", "assigned", "contact_attempt", "status", "contact_attempt", "status", "status",
                         "note"]
        staff_ids = set(db.session.scalars(select(RequestEvent.staff_id).where(RequestEvent.kind != "submitted")))
        assert staff_ids == {desk["id"]}
        audit = db.session.scalars(select(AuditEvent).where(AuditEvent.target_id == str(request.id))).all()
        assert [a.action for a in audit].count("change_request") == 6
        assert {a.action for a in audit} == {"view_request", "change_request"}
        assert all(a.staff_id == desk["id"] and a.target_type == "consultation_request" for a in audit)
        for row in audit:  # the record by id, never its contents
            assert "García" not in str(row.detail) and "555" not in str(row.detail)
    # Closed requests leave the default queue but can be reopened.
    assert reference not in staff_client.get("/staff/requests").text
    assert post_work(staff_client, reference, "status", status="in_progress").status_code == 303
    assert stored(app, reference).is_open is True


def test_second_save_on_a_stale_page_is_refused(app: Flask) -> None:
    reference = patient_request(app)
    alice, bob = app.test_client(), app.test_client()
    login(alice, make_staff(app, "frontdesk", name="Alice"))
    login(bob, make_staff(app, "frontdesk", name="Bob"))
    alice_page = alice.get(f"/staff/requests/{reference}").text
    bob_page = bob.get(f"/staff/requests/{reference}").text

    first = alice.post(f"/staff/requests/{reference}/status", data={
        "csrf_token": csrf_token(alice_page), "version": version_of(alice_page), "status": "in_progress"})
    assert first.status_code == 303
    second = bob.post(f"/staff/requests/{reference}/status", data={
        "csrf_token": csrf_token(bob_page), "version": version_of(bob_page), "status": "closed",
        "outcome": "duplicate", "note": "Bob's note"})
    assert second.status_code == 409
    assert "Someone else changed this request" in second.text
    assert "moved it from new to in progress" in second.text  # the current state is shown
    assert "Bob&#39;s note" in second.text  # what Bob typed is kept
    assert version_of(second.text) != version_of(bob_page)  # so a retry is based on the current state
    assert stored(app, reference).status == "in_progress"  # nothing overwritten


def test_version_column_catches_a_race_between_processes(app: Flask) -> None:
    reference = patient_request(app)
    with app.app_context():
        engine = db.engine
        with Session(engine) as one, Session(engine) as two:
            first = one.scalars(select(ConsultationRequest).where(ConsultationRequest.reference == reference)).one()
            second = two.scalars(select(ConsultationRequest).where(ConsultationRequest.reference == reference)).one()
            first.status = "in_progress"
            one.commit()
            second.status = "closed"
            with pytest.raises(StaleDataError):
                two.commit()


@pytest.mark.parametrize(
    ("data", "message"),
    [({"status": "scheduled"}, "Enter the appointment date and time"),
     ({"status": "closed"}, "Choose the outcome"),
     ({"status": "closed", "outcome": "bogus"}, ""),
     ({"status": "warp"}, "")],
)
def test_invalid_status_changes_are_refused_with_a_message(app: Flask, staff_client: FlaskClient,
                                                           data: dict[str, str], message: str) -> None:
    reference = patient_request(app)
    login(staff_client, make_staff(app, "frontdesk"))
    response = post_work(staff_client, reference, "status", **data)
    assert response.status_code == 400
    assert message in response.text
    assert stored(app, reference).status == "new"


def test_transition_not_allowed_from_the_current_status(app: Flask, staff_client: FlaskClient) -> None:
    reference = patient_request(app)
    login(staff_client, make_staff(app, "frontdesk"))
    page = staff_client.get(f"/staff/requests/{reference}").text
    assert '<option value="scheduled">' not in page  # only allowed moves are offered
    response = staff_client.post(f"/staff/requests/{reference}/status", data={
        "csrf_token": csrf_token(page), "version": version_of(page), "status": "scheduled",
        "appointment_date": "2026-12-01", "appointment_time": "10:00"})
    assert response.status_code == 400
    assert stored(app, reference).status == "new"


def test_contact_attempt_needs_method_and_outcome(app: Flask, staff_client: FlaskClient) -> None:
    reference = patient_request(app)
    login(staff_client, make_staff(app, "frontdesk"))
    response = post_work(staff_client, reference, "contact", note="x")
    assert response.status_code == 400
    assert "Choose the method" in response.text and "Choose what happened" in response.text


def test_unknown_reference_is_404(app: Flask, staff_client: FlaskClient) -> None:
    login(staff_client, make_staff(app, "clinician"))
    assert staff_client.get("/staff/requests/ZZZZ-ZZZZ").status_code == 404
    assert staff_client.get("/staff/requests/not-a-ref").status_code == 404


def test_print_view_is_one_page_summary(app: Flask, staff_client: FlaskClient) -> None:
    reference = patient_request(app)
    login(staff_client, make_staff(app, "clinician"))
    page = staff_client.get(f"/staff/requests/{reference}/print").text
    assert reference in page and CONTACT["last_name"] in page and "Log a contact attempt" not in page
    with staff_client.get("/static/staff.css") as css:
        assert "@media print" in css.text


def test_patient_text_is_escaped_on_staff_pages(app: Flask, staff_client: FlaskClient) -> None:
    reference = patient_request(app, first_name="<script>alert(1)</script>", message="<b>bold</b>")
    login(staff_client, make_staff(app, "frontdesk"))
    for url in ("/staff/requests", f"/staff/requests/{reference}"):
        html = staff_client.get(url).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;" in html


def test_note_at_the_limit_with_line_breaks_is_accepted(app: Flask, staff_client: FlaskClient) -> None:
    reference = patient_request(app)
    login(staff_client, make_staff(app, "frontdesk"))
    text = ("x" * 99 + "\r\n") * 20  # 2000 characters as a browser counts them, 2020 as sent
    assert post_work(staff_client, reference, "note", text=text.rstrip("\r\n") + "x").status_code == 303
    too_long = post_work(staff_client, reference, "note", text="y" * 2001)
    assert too_long.status_code == 400


def test_a_note_with_a_nul_character_is_refused_on_every_database() -> None:
    """PostgreSQL refuses NUL in text with a server error; the app refuses it first, on SQLite too."""
    import pytest

    from app.casework.work import InvalidChange, _clean_note

    with pytest.raises(InvalidChange, match="NUL"):
        _clean_note("called\x00back")
    assert _clean_note("line one\nline two\ttabbed") == "line one\nline two\ttabbed"
