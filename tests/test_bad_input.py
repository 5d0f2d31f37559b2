"""Bad input anywhere gives a clear message or a 4xx, never a 500, and never a partial row."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import ConsultationRequest, Draft, Screening
from app.screening.questions import PAGES
from tests.answers import EVERY_PAGE_ANSWERS, answers_with
from tests.journey import CONTACT, answer_all, csrf_token, see_result

GARBAGE = [
    {"red_flags": "x" * 10_000},
    {"leg_symptoms": ["one_side", "both_sides"]},
    {"age": ["72", "73"]},
    {"pain_score": "\x00"},
    {"age": "٧٢"},  # Arabic-Indic digits
    {"pain_score": "²"},  # isdigit() is true, int() refuses it
    {"had_mri": "yes_last_12_months\n"},
    {"mri_findings": ["thick_ligament"] * 50},
    {"unknown_field": "1"},
    {"blood_thinners": ""},
]


def rows(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (
            int(db.session.scalar(select(func.count()).select_from(Screening)) or 0),
            int(db.session.scalar(select(func.count()).select_from(ConsultationRequest)) or 0),
        )


@pytest.mark.parametrize("page", PAGES, ids=[p.slug for p in PAGES])
@pytest.mark.parametrize("junk", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_on_any_page_is_a_clear_message(client: FlaskClient, page: object, junk: dict[str, object]) -> None:
    answer_all(client, EVERY_PAGE_ANSWERS)
    slug = page.slug  # type: ignore[attr-defined]
    token = csrf_token(client.get(f"/questions/{slug}").text)
    response = client.post(f"/questions/{slug}", data={"csrf_token": token, **junk})
    assert response.status_code in (200, 303)
    if response.status_code == 200:
        assert "There is a problem" in response.text


def test_missing_csrf_token_is_a_friendly_400(app: Flask, client: FlaskClient) -> None:
    response = client.post("/questions/safety", data={"red_flags": ["none"]})
    assert response.status_code == 400
    assert "cookies" in response.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0


def test_oversized_request_is_413(client: FlaskClient) -> None:
    token = csrf_token(client.get("/questions/safety").text)
    response = client.post("/questions/safety", data={"csrf_token": token, "red_flags": "x" * 100_000})
    assert response.status_code == 413
    assert "too long" in response.text


def test_wrong_method_is_405(client: FlaskClient) -> None:
    assert client.post("/result").status_code == 405
    assert client.delete("/questions/safety").status_code == 405


def test_tampered_or_unknown_cookie_is_treated_as_no_draft(client: FlaskClient) -> None:
    client.set_cookie("mild_draft", "not-a-signed-cookie")
    assert client.get("/questions/safety").status_code == 200
    client.set_cookie("mild_draft", "x" * 4000)
    assert client.get("/check-your-answers").status_code == 303


@pytest.mark.parametrize(
    "junk",
    [{"date_of_birth-day": "x" * 5000}, {"phone": "+" + "9" * 40}, {"email": "a" * 300 + "@b.com"},
     {"first_name": "\x00"}, {"consent_contact": ""}, {"best_time": "\x00"}, {"date_of_birth-year": "99999"}],
)
def test_contact_garbage_is_refused_and_nothing_is_stored(
    app: Flask, client: FlaskClient, junk: dict[str, str]
) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **{**CONTACT, **junk}})
    assert response.status_code == 200
    assert "There is a problem" in response.text
    send = client.post("/request/check", data={"csrf_token": token})
    assert send.headers["Location"] == "/request"
    assert rows(app) == (1, 0)
