"""Protection of the patient forms: rate limit, honeypot, minimum fill time, request size and field lengths."""

from __future__ import annotations

import html as htmllib
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.intake import contact
from app.models import ConsultationRequest, Draft, utcnow
from app.public import routes
from app.screening.questions import PAGES
from tests.answers import EVERY_PAGE_ANSWERS, answers_with
from tests.journey import CONTACT, csrf_token, error_messages, see_result, send_request

FIRST = f"/questions/{PAGES[0].slug}"
SPAM = "http://spam.example/buy-now"


def stored_requests(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(ConsultationRequest)) or 0)


def kept_contact(app: Flask) -> dict[str, Any]:
    """The contact details kept in the (only) draft."""
    with app.app_context():
        return dict(db.session.scalars(select(Draft.contact)).one())


def security_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "app.public.protection"]


class Clock:
    """The patient routes' clock, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now: datetime = utcnow()
        monkeypatch.setattr(routes, "now", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


# Rate limit


@pytest.fixture
def limited_app(make_app: Callable[..., Flask]) -> Flask:
    """An app with the rate limit switched on and a tiny patient budget."""
    return make_app(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC_POST="3 per minute")


def test_the_fourth_patient_post_in_a_minute_gets_a_friendly_429(limited_app: Flask) -> None:
    client = limited_app.test_client()
    token = csrf_token(client.get(FIRST).text)
    for _ in range(3):
        assert client.post(FIRST, data={"csrf_token": token}).status_code == 200  # shown with errors
    limited = client.post("/check-your-answers", data={"csrf_token": token})  # one budget for every form
    assert limited.status_code == 429
    assert "Please wait a few minutes" in limited.text
    assert limited_app.extensions["clinic"].phone_display in limited.text
    assert limited.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in limited.headers
    assert "Retry-After" not in limited.headers and "X-RateLimit-Limit" not in limited.headers


def test_pages_are_never_limited(limited_app: Flask) -> None:
    client = limited_app.test_client()
    token = csrf_token(client.get(FIRST).text)
    for _ in range(4):
        client.post(FIRST, data={"csrf_token": token})
    for path in (FIRST, "/", "/static/site.css", "/check-your-answers"):
        with client.get(path) as response:
            assert response.status_code in (200, 303), path


def test_the_limit_is_per_address(limited_app: Flask) -> None:
    busy, other = limited_app.test_client(), limited_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    token = csrf_token(busy.get(FIRST).text)
    for _ in range(4):
        busy.post(FIRST, data={"csrf_token": token})
    other_token = csrf_token(other.get(FIRST).text)
    assert other.post(FIRST, data={"csrf_token": other_token}).status_code == 200


def test_a_whole_journey_fits_in_the_default_budget(make_app: Callable[..., Flask]) -> None:
    app = make_app(RATELIMIT_ENABLED=True)  # RATELIMIT_PUBLIC_POST as configured
    client = app.test_client()
    see_result(client, answers_with())
    assert send_request(client).headers["Location"] == "/request/sent"


# Honeypot


def test_a_filled_honeypot_is_answered_like_success_but_nothing_is_kept(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    with caplog.at_level(logging.INFO, logger="app.public.protection"):
        response = client.post("/request", data={"csrf_token": token, **CONTACT, "ref_code": SPAM})
    assert response.status_code == 303
    assert response.headers["Location"] == "/request/check"
    assert "first_name" not in kept_contact(app)
    [record] = security_log(caplog)
    assert record.levelno == logging.INFO
    for value in (SPAM, CONTACT["first_name"], CONTACT["last_name"], CONTACT["phone"], CONTACT["message"]):
        assert value not in record.getMessage()
    # The next page finds no details and sends the browser back to the form, empty.
    assert client.get("/request/check").headers["Location"] == "/request"
    assert CONTACT["last_name"] not in client.get("/request").text
    # A person (who never sees the box) gets through.
    assert send_request(client).headers["Location"] == "/request/sent"
    assert stored_requests(app) == 1


def test_the_honeypot_is_hidden_from_people_and_assistive_technology(client: FlaskClient) -> None:
    see_result(client, answers_with())
    contact_form = client.get("/request").text
    client.post("/request", data={"csrf_token": csrf_token(contact_form), **CONTACT})
    for html in (contact_form, client.get("/request/check").text):
        assert '<div class="form-extra" aria-hidden="true">' in html
        assert 'name="ref_code" type="text" value="" tabindex="-1" autocomplete="off"' in html
        assert "Leave this empty" in html


def test_a_filled_honeypot_on_the_final_send_stores_nothing(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    client.post("/request", data={"csrf_token": token, **CONTACT})
    with caplog.at_level(logging.INFO, logger="app.public.protection"):
        response = client.post("/request/check", data={"csrf_token": token, "ref_code": SPAM})
    assert response.headers["Location"] == "/request/sent"
    assert stored_requests(app) == 0
    assert len(security_log(caplog)) == 1
    assert client.get("/request/sent").headers["Location"] == "/request"
    assert client.post("/request/check", data={"csrf_token": token}).headers["Location"] == "/request/sent"
    assert stored_requests(app) == 1


def test_a_blank_honeypot_is_not_a_bot(app: Flask, client: FlaskClient) -> None:
    see_result(client, answers_with())
    assert send_request(client, {**CONTACT, "ref_code": "  "}).headers["Location"] == "/request/sent"
    assert stored_requests(app) == 1


# Minimum time to fill in the contact form


def _shown_values(html: str) -> dict[str, str]:
    """The text boxes' values and the checked choices of a page, by name."""
    shown: dict[str, str] = {}
    for tag in re.findall(r"<input\b[^>]*>", html):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if attrs.get("type") in {"text", "tel", "email"} or (attrs.get("type") == "radio" and " checked" in tag):
            shown[attrs["name"]] = htmllib.unescape(attrs.get("value", ""))
    return shown


def test_a_post_sooner_than_the_minimum_comes_back_filled_in_and_passes_next_time(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(FORM_MIN_SECONDS=5.0)
    client = app.test_client()
    see_result(client, answers_with())
    clock = Clock(monkeypatch)
    token = csrf_token(client.get("/request").text)
    clock.advance(1)  # browser autofill: the whole form in a second
    with caplog.at_level(logging.INFO, logger="app.public.protection"):
        response = client.post("/request", data={"csrf_token": token, **CONTACT})
    assert response.status_code == 200
    assert "Please check your details, then select Continue." in htmllib.unescape(response.text)
    assert error_messages(response.text) == {}  # nothing is wrong with what they typed
    shown = _shown_values(response.text)
    for name in ("first_name", "last_name", "phone", "date_of_birth-month", "date_of_birth-day",
                 "date_of_birth-year", "preferred_contact", "best_time", "insurance"):
        assert shown[name] == CONTACT[name], name
    assert 'name="consent_contact" type="checkbox" value="y" checked' in response.text
    assert len(security_log(caplog)) == 1 and CONTACT["last_name"] not in caplog.text
    # Coming back later (another page, a reload) finds it filled in too.
    assert _shown_values(client.get("/request").text)["last_name"] == CONTACT["last_name"]
    # Selecting Continue again goes through: the clock runs from the first time the form was shown.
    clock.advance(4)
    assert client.post("/request", data={"csrf_token": token, **CONTACT}).headers["Location"] == "/request/check"
    assert kept_contact(app)["first_name"] == CONTACT["first_name"]
    # Changing a detail at once, from the check page, is never too soon.
    client.get("/request")
    changed = {**CONTACT, "best_time": "evening"}
    assert client.post("/request", data={"csrf_token": token, **changed}).headers["Location"] == "/request/check"
    assert kept_contact(app)["best_time"] == "evening"
    assert client.post("/request/check", data={"csrf_token": token}).headers["Location"] == "/request/sent"
    assert stored_requests(app) == 1


def test_a_post_to_a_form_never_shown_keeps_nothing_checked(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(FORM_MIN_SECONDS=3.0)
    client = app.test_client()
    see_result(client, answers_with())
    clock = Clock(monkeypatch)
    token = csrf_token(client.get("/check-your-answers").text)
    clock.advance(60)
    response = client.post("/request", data={"csrf_token": token, **CONTACT})
    assert response.status_code == 200 and "Please check your details" in response.text
    assert "first_name" not in kept_contact(app)  # only as typed, not as accepted details
    assert client.get("/request/check").headers["Location"] == "/request"


def test_a_patient_who_takes_their_time_sends_the_request(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(FORM_MIN_SECONDS=3.0)
    client = app.test_client()
    see_result(client, answers_with())
    clock = Clock(monkeypatch)
    token = csrf_token(client.get("/request").text)
    clock.advance(45)
    assert client.post("/request", data={"csrf_token": token, **CONTACT}).headers["Location"] == "/request/check"
    assert CONTACT["last_name"] in client.get("/request/check").text
    assert client.post("/request/check", data={"csrf_token": token}).headers["Location"] == "/request/sent"
    with app.app_context():
        reference = db.session.scalars(select(ConsultationRequest.reference)).one()
    assert reference in client.get("/request/sent").text


def test_form_errors_are_shown_before_any_bot_check(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(FORM_MIN_SECONDS=5.0)
    client = app.test_client()
    see_result(client, answers_with())
    Clock(monkeypatch)
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **CONTACT, "phone": "", "ref_code": SPAM})
    assert response.status_code == 200
    assert list(error_messages(response.text)) == ["phone"]


# Request size


def test_an_oversized_body_gets_the_friendly_413(client: FlaskClient) -> None:
    token = csrf_token(client.get(FIRST).text)
    response = client.post("/request", data={"csrf_token": token, "message": "x" * 70_000})
    assert response.status_code == 413
    assert "What you sent was too long" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in response.headers


def test_an_oversized_multipart_body_is_413(client: FlaskClient) -> None:
    response = client.post(FIRST, data={"red_flags": "x" * 70_000}, content_type="multipart/form-data")
    assert response.status_code == 413


def test_too_many_form_parts_is_413(app: Flask, client: FlaskClient) -> None:
    parts = {f"field{n}": "1" for n in range(app.config["MAX_FORM_PARTS"] + 1)}
    response = client.post(FIRST, data=parts, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "What you sent was too long" in response.text


def test_the_form_memory_limit_is_applied(make_app: Callable[..., Flask]) -> None:
    # With the shipped values MAX_CONTENT_LENGTH is the tighter bound; a smaller memory limit shows the
    # setting reaches the form parser.
    field = {"red_flags": "x" * 2048}
    small = make_app(MAX_FORM_MEMORY_SIZE=1024).test_client()
    assert small.post(FIRST, data=field, content_type="multipart/form-data").status_code == 413
    usual = make_app().test_client()
    assert usual.post(FIRST, data=field, content_type="multipart/form-data").status_code == 400  # no CSRF token


# Field lengths: every text box is bounded in the page and again on the server


class TextBoxes(HTMLParser):
    """{name: maxlength or None} for every box a patient types into."""

    TYPED = frozenset({"text", "tel", "email", "search", "number", None})

    def __init__(self) -> None:
        super().__init__()
        self.boxes: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "textarea" or (tag == "input" and attributes.get("type") in self.TYPED):
            self.boxes[attributes["name"] or ""] = attributes.get("maxlength")


def text_boxes(html: str) -> dict[str, str | None]:
    parser = TextBoxes()
    parser.feed(html)
    return parser.boxes


# The day, month and year boxes follow the GOV.UK date input, which has no maxlength (a silently cut
# paste is worse than a message); the server reads at most 10 characters of each.
DATE_PARTS = {"date_of_birth-day", "date_of_birth-month", "date_of_birth-year"}


def test_every_contact_box_has_the_servers_maxlength(client: FlaskClient) -> None:
    see_result(client, answers_with())
    boxes = text_boxes(client.get("/request").text)
    assert {name: boxes[name] for name in boxes if name not in DATE_PARTS} == {
        "ref_code": "100",
        "first_name": str(contact.NAME_MAX),
        "last_name": str(contact.NAME_MAX),
        "phone": "32",
        "email": str(contact.EMAIL_MAX),
        "message": str(contact.MESSAGE_MAX),
        "other_language": str(contact.OTHER_LANGUAGE_MAX),
        "proxy_name": str(contact.NAME_MAX),
        "proxy_relationship": str(contact.RELATIONSHIP_MAX),
    }
    assert set(boxes) >= DATE_PARTS


@pytest.mark.parametrize("page", PAGES, ids=[page.slug for page in PAGES])
def test_every_question_box_has_a_maxlength(client: FlaskClient, page: Any) -> None:
    see_result(client, EVERY_PAGE_ANSWERS)
    boxes = text_boxes(client.get(f"/questions/{page.slug}").text)
    assert all(boxes.values()), boxes


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_name": "x" * (contact.NAME_MAX + 1)}, "first_name"),
        ({"last_name": "x" * (contact.NAME_MAX + 1)}, "last_name"),
        ({"phone": "4" * 33}, "phone"),
        ({"email": "a" * 250 + "@b.com"}, "email"),
        ({"message": "m" * (contact.MESSAGE_MAX + 1)}, "message"),
        ({"date_of_birth-year": "1954" + "0" * 5000}, "date_of_birth"),
    ],
)
def test_the_server_refuses_what_is_too_long(client: FlaskClient, changes: dict[str, str], field: str) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **CONTACT, **changes})
    assert response.status_code == 200
    assert field in error_messages(response.text)


def test_line_breaks_count_once_as_in_the_browser(app: Flask, client: FlaskClient) -> None:
    # The browser counts each line break as one character against maxlength but sends it as two (CRLF).
    message = ("a" * 49 + "\r\n") * 20  # 1,000 characters in the browser, 1,020 on the wire
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **CONTACT, "message": message})
    assert response.headers.get("Location") == "/request/check", error_messages(response.text)
    assert kept_contact(app)["message"] == message.replace("\r\n", "\n").strip()


# A date of birth that does not fit the age given


def test_fixing_the_age_from_the_contact_form_keeps_every_detail(app: Flask, client: FlaskClient) -> None:
    see_result(client, answers_with(age=60))  # born 3 April 1954: 72, not 60
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **CONTACT})
    assert "but you told us you are 60" in htmllib.unescape(error_messages(response.text)["date_of_birth"])
    link = re.search(r'<a href="([^"]+)" class="link-standalone">Change your age in your answers</a>', response.text)
    assert link and link.group(1) == "/questions/age?return=contact"
    age_page = client.get(link.group(1)).text
    assert '<a href="/request" class="back-link">' in age_page
    response = client.post(link.group(1), data={"csrf_token": csrf_token(age_page), "age": "72"})
    assert response.headers["Location"] == "/request"  # the same result, so straight back to the form
    form = client.get("/request").text
    shown = _shown_values(form)
    for name, value in CONTACT.items():  # all ten details, as typed
        if name == "message":
            assert ">Please call after 10.</textarea>" in form
        elif name == "consent_contact":
            assert 'name="consent_contact" type="checkbox" value="y" checked' in form
        elif value:
            assert shown[name] == value, name
    assert error_messages(form) == {}
    assert client.post("/request", data={"csrf_token": token, **CONTACT}).headers["Location"] == "/request/check"
    assert kept_contact(app)["date_of_birth"] == "1954-04-03"


def test_an_age_change_that_changes_the_result_shows_the_new_result_first(client: FlaskClient) -> None:
    see_result(client, answers_with(age=45))
    token = csrf_token(client.get("/request").text)
    client.post("/request", data={"csrf_token": token, **CONTACT})
    before = client.get("/result").text
    response = client.post("/questions/age?return=contact", data={"csrf_token": token, "age": "72"})
    assert response.headers["Location"] == "/result"  # 45 -> 72 changes how the answers fit
    assert client.get("/result").text != before
    assert _shown_values(client.get("/request").text)["last_name"] == CONTACT["last_name"]


def test_only_the_age_page_leads_back_to_the_contact_form(client: FlaskClient) -> None:
    see_result(client, answers_with())
    page = client.get("/questions/imaging?return=contact").text
    assert 'action="/questions/imaging"' in page


def test_memory_rate_limits_with_several_workers_warn_at_start(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        make_app(WEB_CONCURRENCY=4, RATELIMIT_STORAGE_URI="memory://")
    warned = [r.getMessage() for r in caplog.records if "RATELIMIT_STORAGE_URI" in r.getMessage()]
    assert len(warned) == 1 and "4 times what it says" in warned[0] and "redis://" in warned[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        make_app(WEB_CONCURRENCY=4, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0")
        make_app(WEB_CONCURRENCY=1, RATELIMIT_STORAGE_URI="memory://")
    assert not [r for r in caplog.records if "RATELIMIT_STORAGE_URI" in r.getMessage()]


# One client cannot fill the queue


def _send_as_new_patient(app: Flask, phone: str) -> Any:
    client = app.test_client()
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    assert client.post("/request", data={"csrf_token": token, **CONTACT, "phone": phone}).status_code == 303
    return client.post("/request/check", data={"csrf_token": token})


def test_a_phone_number_that_sent_enough_today_is_asked_to_call(make_app: Callable[..., Flask]) -> None:
    app = make_app(REQUESTS_PER_PHONE=2, REQUESTS_PER_PHONE_HOURS=24)
    for _ in range(2):
        assert _send_as_new_patient(app, "(415) 555-0142").headers["Location"] == "/request/sent"
    refused = _send_as_new_patient(app, "+1 415 555 0142")  # the same number written another way
    assert refused.status_code == 429
    page = htmllib.unescape(refused.text)
    assert "Please call the clinic" in page and "(415) 555-0134" in page
    assert stored_requests(app) == 2
    assert _send_as_new_patient(app, "(415) 555-0143").headers["Location"] == "/request/sent"  # another number
    with app.app_context():  # a day later the number may send again
        for request in db.session.scalars(select(ConsultationRequest)):
            request.created_at -= timedelta(hours=25)
        db.session.commit()
    assert _send_as_new_patient(app, "(415) 555-0142").headers["Location"] == "/request/sent"


def test_an_address_that_sent_enough_is_asked_to_call(make_app: Callable[..., Flask]) -> None:
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_REQUEST_SEND="2 per day")
    for number in range(2):
        assert _send_as_new_patient(app, f"(415) 555-015{number}").headers["Location"] == "/request/sent"
    refused = _send_as_new_patient(app, "(415) 555-0159")
    assert refused.status_code == 429
    assert "Please call the clinic" in htmllib.unescape(refused.text)
    assert stored_requests(app) == 2
