"""Drives the patient questionnaire through the test client, the way a browser would: GET, then POST the form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.screening.questions import BY_FIELD, PAGES, Page

CONTACT: dict[str, Any] = {
    "first_name": "Ana",
    "last_name": "García",
    "date_of_birth-day": "3",
    "date_of_birth-month": "4",
    "date_of_birth-year": "1954",
    "phone": "(415) 555-0199",
    "email": "",
    "preferred_contact": "phone",
    "best_time": "morning",
    "preferred_language": "es",
    "insurance": "medicare",
    "voicemail": "yes",
    "message": "Please call after 10.",
    "consent_contact": "y",
}


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def form_data(page: Page, answers: Mapping[str, Any]) -> dict[str, Any]:
    """What a browser would send for ``page`` with these answers (numbers as typed text)."""
    data: dict[str, Any] = {}
    for name in page.fields:
        if name in answers and answers[name] is not None:
            value = answers[name]
            data[name] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return data


def post_page(client: FlaskClient, slug: str, data: Mapping[str, Any], query: str = "") -> TestResponse:
    """GET a questionnaire page for its token, then POST ``data`` to it."""
    url = f"/questions/{slug}{query}"
    token = csrf_token(client.get(url).text)
    return client.post(url, data={"csrf_token": token, **data})


def answer_all(client: FlaskClient, answers: Mapping[str, Any]) -> TestResponse:
    """Answer each page the server asks for, until one has no answers given; return the last response."""
    response = client.get(f"/questions/{PAGES[0].slug}")
    slug = PAGES[0].slug
    for _ in range(len(PAGES) + 1):
        page = next(p for p in PAGES if p.slug == slug)
        if not any(name in answers for name in page.fields):
            return response
        response = post_page(client, slug, form_data(page, answers))
        assert response.status_code == 303, f"{slug}: {response.status_code}"
        location = response.headers["Location"]
        if location == "/get-help-now":
            location = f"/questions/{PAGES[1].slug}"
        if not location.startswith("/questions/"):
            return response
        slug = location.removeprefix("/questions/").split("?")[0]
    raise AssertionError("the questionnaire did not end")


def see_result(client: FlaskClient, answers: Mapping[str, Any]) -> TestResponse:
    """Answer everything, confirm on the check page and return the result page."""
    answer_all(client, answers)
    token = csrf_token(client.get("/check-your-answers").text)
    response = client.post("/check-your-answers", data={"csrf_token": token})
    assert response.headers["Location"] == "/result"
    return client.get("/result")


def send_request(client: FlaskClient, contact: Mapping[str, Any] = CONTACT) -> TestResponse:
    """Fill in the contact form, then send from the check page; return the POST's response."""
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **contact})
    assert response.headers.get("Location") == "/request/check", error_messages(response.text)
    token = csrf_token(client.get("/request/check").text)
    return client.post("/request/check", data={"csrf_token": token})


def error_messages(html: str) -> dict[str, str]:
    """The error summary as {field id: message}."""
    return dict(re.findall(r'<li><a href="#([^"]+)">([^<]+)</a></li>', html))


def questions_on(page: Page) -> list[str]:
    """Field names on a page (for parametrizing)."""
    return [BY_FIELD[name].field for name in page.fields]
