"""No patient details in logs, URLs, redirects, error pages or emails, through the whole flow.

A patient sends unusual, easily recognised values (the sentinels). Then everything happens that could
leak them: the patient pages, the staff sign-in, the queue, searches by name and by phone, the request
page and its print view, every kind of work on it, the CSV export, the audit log and the delivery of the
intake email. Every logger is captured at DEBUG (werkzeug's and SQLAlchemy's included), every URL asked
for and every Location header is kept, and every email is caught by a fake sender. None of them may hold
a sentinel in any of the forms it can take (typed, normalised, lower-cased, E.164, date formats).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, unquote_plus

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import ConsultationRequest, OutboxMessage
from app.security.log_privacy import REDACTED
from app.web.mailer import deliver_pending
from tests.answers import answers_with
from tests.factories import login, make_staff, seed_request, staff_token
from tests.journey import CONTACT, csrf_token, see_result, send_request

SENTINEL_CONTACT = {
    **CONTACT,
    "first_name": "Zephyrinne",
    "last_name": "Quillfeatherby",
    "date_of_birth-day": "29",
    "date_of_birth-month": "7",
    "date_of_birth-year": "1954",
    "phone": "(415) 555-0142",
    "email": "zq.sentinel@example.org",
    "preferred_contact": "email",
    "message": "Sentinel marmalade xylophone, please call after ten.",
}
# Every form a sentinel may take once it has been typed, checked, normalised, formatted or lower-cased.
NEEDLES = (
    "zephyrinne", "quillfeatherby", "5550142", "555-0142", "555 0142", "555.0142", "zq.sentinel",
    "marmalade", "xylophone", "1954-07-29", "29 july 1954", "07/29/1954", "7/29/1954", "29/07/1954",
)


def leaks(text: str) -> list[str]:
    """The needles found in ``text`` (also after URL-decoding), ignoring case."""
    forms = {text.lower(), unquote(text).lower(), unquote_plus(text).lower()}
    return [needle for needle in NEEDLES if any(needle in form for form in forms)]


class RecordingClient(FlaskClient):
    """A test client that keeps every URL it asked for and every redirect it was given."""

    urls: list[str]

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:  # type: ignore[override]
        response = super().open(*args, **kwargs)
        seen = type(self).urls
        seen.append(response.request.url)
        if "Location" in response.headers:
            seen.append(response.headers["Location"])
        return response


class FakeSender:
    """Catches the emails instead of sending them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, recipient: str, subject: str, body: str, attachment: str | None = None) -> None:
        self.sent.append((recipient, subject, body))


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every logger at DEBUG, including any that does not pass records up to the root."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    changed: list[tuple[logging.Logger, int, bool]] = []
    for name in ("werkzeug", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.engine.Engine", "flask_wtf.csrf",
                 "app", "app.casework.notify", "app.public.protection"):
        logging.getLogger(name)  # make sure each exists before the sweep below
    for logger in [item for item in logging.root.manager.loggerDict.values() if isinstance(item, logging.Logger)]:
        changed.append((logger, logger.level, logger.propagate))
        logger.setLevel(logging.DEBUG)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
    yield caplog
    for logger, level, _ in changed:
        logger.setLevel(level)
        if caplog.handler in logger.handlers:
            logger.removeHandler(caplog.handler)


@pytest.fixture
def mail_app(make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> tuple[Flask, FakeSender]:
    """An app that queues intake emails, delivered to a fake sender; its clients record every URL."""
    app = make_app(MAIL_INTAKE_ADDRESS="intake@clinic.example", PUBLIC_BASE_URL="https://mild.clinic.example")
    app.test_client_class = RecordingClient
    RecordingClient.urls = []
    sender = FakeSender()
    monkeypatch.setattr("app.web.mailer.build_sender", lambda config: sender)
    return app, sender


def _post_form(client: FlaskClient, page: str, action: str, data: dict[str, str]) -> TestResponse:
    token = staff_token(client, page)
    return client.post(action, data={"csrf_token": token, **data})


def test_no_patient_detail_reaches_a_log_a_url_an_error_page_or_an_email(
    mail_app: tuple[Flask, FakeSender], every_log: pytest.LogCaptureFixture
) -> None:
    app, sender = mail_app
    bodies_that_must_be_clean: list[str] = []

    # The patient: questionnaire, result, contact form (first with mistakes, then right), check, send.
    patient = app.test_client()
    see_result(patient, answers_with())
    token = csrf_token(patient.get("/request").text)
    wrong = patient.post("/request", data={"csrf_token": token, **SENTINEL_CONTACT, "date_of_birth-year": "51"})
    assert wrong.status_code == 200 and "Year must include 4 numbers" in wrong.text
    refused = patient.post("/request", data=SENTINEL_CONTACT)  # no CSRF token: the 400 page must not echo it
    assert refused.status_code == 400
    bodies_that_must_be_clean.append(refused.text)
    assert send_request(patient, SENTINEL_CONTACT).headers["Location"] == "/request/sent"
    assert "Zephyrinne" not in patient.get("/request/sent").text  # the confirmation needs only the reference
    with app.app_context():
        reference = db.session.scalars(select(ConsultationRequest.reference)).one()

    # Staff: sign in, queue, searches, the request, its print view, work on it, export, audit log.
    account = make_staff(app, "admin", name="Desk Person")
    staff = app.test_client()
    login(staff, account)
    assert "Quillfeatherby" in staff.get("/staff/requests").text  # the page shows it; its URL must not
    for text in ("Quillfeatherby", "quillfeatherby", "(415) 555-0142", "+14155550142", "415.555.0142"):
        searched = _post_form(staff, "/staff/requests", "/staff/requests", {"q": text, "status": "all"})
        assert searched.status_code == 303
        found = staff.get(searched.headers["Location"])
        assert reference in found.text, text
        export = staff.get(searched.headers["Location"].replace("/staff/requests?", "/staff/requests.csv?"))
        assert export.status_code == 200 and "Quillfeatherby" in export.get_data(as_text=True)
    page = f"/staff/requests/{reference}"
    assert "Zephyrinne" in staff.get(page).text
    assert staff.get(f"{page}/print").status_code == 200
    def version() -> int:
        return int(db.session.scalars(select(ConsultationRequest.version)).one())

    with app.app_context():
        current = version()
    for action, data in (
        ("assign", {"assignee": str(account["id"])}),
        ("contact", {"method": "phone", "outcome": "no_answer", "note": "Rang, no answer"}),
        ("status", {"status": "closed", "outcome": "consult_booked", "note": "Booked"}),
        ("note", {"text": "Will try again tomorrow"}),
    ):
        response = _post_form(staff, page, f"{page}/{action}", {"version": str(current), **data})
        assert response.status_code == 303, (action, response.status_code)
        with app.app_context():
            current = version()
    assert staff.get("/staff/admin/audit").status_code == 200
    assert staff.get("/staff/admin/outbox").status_code == 200
    missing = staff.get("/staff/requests/ZZZZ-ZZZZ")
    assert missing.status_code == 404
    bodies_that_must_be_clean.append(missing.text)

    # The intake email and the patient's acknowledgement, delivered to the fake sender. The acknowledgement is
    # addressed to the patient (its one necessary detail); its subject and body must be as clean as the rest.
    with app.app_context():
        report = deliver_pending()
        stored_mail = [(m.subject, m.body) for m in db.session.scalars(select(OutboxMessage))]
    assert report.sent == 2 and [recipient for recipient, _, _ in sender.sent] == [
        app.config["MAIL_INTAKE_ADDRESS"], "zq.sentinel@example.org"]
    assert all(reference in body for _, _, body in sender.sent)
    sender.sent = [(subject, body) for _, subject, body in sender.sent]  # type: ignore[misc]

    found: dict[str, list[str]] = {}
    for record in every_log.records:
        text = " ".join((record.getMessage(), repr(record.args), record.exc_text or "", record.name))
        if leaks(text):
            found[f"log {record.name}: {record.getMessage()[:200]}"] = leaks(text)
    for url in RecordingClient.urls:
        if leaks(url):
            found[f"url {url}"] = leaks(url)
    for email in [*sender.sent, *stored_mail]:
        if leaks(" ".join(email)):
            found[f"email {email[0]}"] = leaks(" ".join(email))
    for body in bodies_that_must_be_clean:
        if leaks(body):
            found[f"error page {body[:80]}"] = leaks(body)
    assert found == {}
    assert every_log.records, "nothing was logged at all: the capture is not working"
    assert len(RecordingClient.urls) > 40


def test_database_result_rows_are_redacted_at_debug_while_statements_still_log(
    app: Flask, every_log: pytest.LogCaptureFixture
) -> None:
    reference = seed_request(app, last_name="Quillfeatherby", phone="+14155550142")
    every_log.clear()
    with app.app_context():
        assert db.session.scalars(select(ConsultationRequest.last_name)).one() == "Quillfeatherby"
    messages = [record.getMessage() for record in every_log.records if record.name.startswith("sqlalchemy")]
    assert any("FROM consultation_request" in message for message in messages)  # SQL logging still works
    rows = [message for message in messages if message.startswith("Row ")]
    assert rows and all(REDACTED in message for message in rows)
    assert not [message for message in messages if leaks(message)]
    assert reference
