"""Inputs a security test found giving a 500 (issue 22): each now gets its page with a clear message.

Each test failed before its fix (a 500, a Python error message, or a value stored that should not be).
"""

from __future__ import annotations

import html
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import ConsultationRequest
from tests.answers import answers_with
from tests.factories import login, make_staff, patient_request
from tests.journey import CONTACT, csrf_token, error_messages, see_result
from tests.patient_pages import choose_language
from tests.test_request_work import version_of


@pytest.fixture
def desk(app: Flask, staff_client: FlaskClient) -> FlaskClient:
    login(staff_client, make_staff(app, "frontdesk"))
    return staff_client


@pytest.fixture
def admin(app: Flask, staff_client: FlaskClient) -> FlaskClient:
    login(staff_client, make_staff(app, "admin"))
    return staff_client


@pytest.mark.parametrize(("query", "message"), [
    ("to=9999-12-31", "To must be a date between 2000 and 2099"),
    ("from=0001-01-01", "From must be a date between 2000 and 2099"),
    ("assignee=99999999999999999999999", "Unknown assignee filter"),
    ("assignee=%C2%B2", "Unknown assignee filter"),  # "²": str.isdigit() says yes, int() says no
    ("after=1.%D9%A3.1", "That page link is out of date"),  # an Arabic-Indic digit
])
def test_queue_filters_at_the_edges_give_the_page_with_a_message(app: Flask, desk: FlaskClient, query: str,
                                                                 message: str) -> None:
    patient_request(app)
    response = desk.get(f"/staff/requests?{query}")
    assert response.status_code == 200
    assert message in html.unescape(response.text)


@pytest.mark.parametrize("query", ["to=9999-12-31", "assignee=99999999999999999999999", "assignee=%C2%B2"])
def test_an_export_with_such_filters_is_whole(app: Flask, admin: FlaskClient, query: str) -> None:
    reference = patient_request(app)
    response = admin.get(f"/staff/requests.csv?{query}")
    assert response.status_code in (200, 303)
    if response.status_code == 200:
        body = response.get_data(as_text=True)  # streamed to the end: never broken off after the audit row
        assert body.count("\r\n") == 2 and reference in body


@pytest.mark.parametrize(("query", "message"), [
    ("to=9999-12-31", "To must be a date between 2000 and 2099"),
    ("before=%C2%B2", "That page link is out of date"),
    ("staff=%C2%B2", "Unknown staff filter"),
    ("staff=99999999999999999999999", "Unknown staff filter"),
])
def test_audit_filters_at_the_edges_give_the_page_with_a_message(admin: FlaskClient, query: str,
                                                                 message: str) -> None:
    response = admin.get(f"/staff/admin/audit?{query}")
    assert response.status_code == 200
    assert message in html.unescape(response.text)


def _schedule(app: Flask, client: FlaskClient, day: str) -> tuple[int, str]:
    reference = patient_request(app)
    page = client.get(f"/staff/requests/{reference}").text  # new -> in progress -> scheduled
    client.post(f"/staff/requests/{reference}/status", data={
        "csrf_token": csrf_token(page), "version": version_of(page), "status": "in_progress"})
    page = client.get(f"/staff/requests/{reference}").text
    response = client.post(f"/staff/requests/{reference}/status", data={
        "csrf_token": csrf_token(page), "version": version_of(page), "status": "scheduled",
        "appointment_date": day, "appointment_time": "10:00"})
    with app.app_context():
        stored = db.session.scalars(select(ConsultationRequest).where(ConsultationRequest.reference == reference)).one()
        return response.status_code, f"{stored.status} {html.unescape(response.get_data(as_text=True))}"


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_an_appointment_far_in_the_past_or_future_is_refused(app: Flask, desk: FlaskClient, day: str) -> None:
    status, page = _schedule(app, desk, day)
    assert status == 400
    assert page.startswith("in_progress ")  # nothing changed
    assert "Enter an appointment date between" in page


def test_an_appointment_next_week_is_booked(app: Flask, desk: FlaskClient) -> None:
    status, page = _schedule(app, desk, (date.today() + timedelta(days=7)).isoformat())
    assert status == 303 and page.startswith("scheduled ")


@pytest.mark.parametrize(("lang", "message"), [
    ("en", "Date of birth must be a real date, using numbers"),
    ("es", "Escriba la fecha de nacimiento con números"),
])
def test_a_date_of_birth_with_other_digits_says_use_numbers(client: FlaskClient, lang: str, message: str) -> None:
    choose_language(client, lang)
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **CONTACT, "date_of_birth-day": "²"})
    assert error_messages(response.text) == {"date_of_birth": message}
    assert "invalid literal" not in response.text


@pytest.mark.parametrize("bad", ["Call me\x00 later", "Call me \u202eretal\u202c please"])
def test_a_message_with_hidden_control_characters_is_refused(client: FlaskClient, bad: str) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **CONTACT, "message": bad})
    assert error_messages(response.text)["message"].startswith("Your message has a hidden character")


def test_a_message_keeps_its_line_breaks(app: Flask, client: FlaskClient) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **CONTACT, "message": "Line one\r\nLine two"})
    assert response.headers["Location"] == "/request/check"


# Cross-site downloads, and views after a refused form


@pytest.mark.parametrize("path", ["/staff/requests.csv", "/staff/requests.fhir.json", "/requests/{ref}/fhir.json"])
@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_another_site_cannot_start_an_export(app: Flask, admin: FlaskClient, path: str, site: str) -> None:
    from app.models import AuditEvent

    reference = patient_request(app)
    url = path.replace("/requests/{ref}", f"/staff/requests/{reference}")
    response = admin.get(url, headers={"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all() == []
    for own in ("same-origin", "none"):  # from the console, or typed and bookmarked
        assert admin.get(url, headers={"Sec-Fetch-Site": own}).status_code == 200


@pytest.mark.parametrize(("data", "status"), [
    ({"status": "nonsense"}, 400),
    ({"status": "in_progress", "version": "0"}, 409),  # a colleague saved first
])
def test_the_request_page_shown_again_after_a_refused_form_is_audited(
    app: Flask, desk: FlaskClient, data: dict[str, str], status: int
) -> None:
    from app.models import AuditEvent

    reference = patient_request(app)
    page = desk.get(f"/staff/requests/{reference}").text
    response = desk.post(f"/staff/requests/{reference}/status",
                         data={"csrf_token": csrf_token(page), "version": version_of(page), **data})
    assert response.status_code == status
    with app.app_context():
        views = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view_request")
                                   .order_by(AuditEvent.id)).all()
    assert [event.detail for event in views] == [{}, {"after": "refused"}]
