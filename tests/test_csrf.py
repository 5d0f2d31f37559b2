"""CSRF: every endpoint that changes something refuses a POST without a valid token, for every visitor.

The endpoints come from the URL map, so a new form is covered the day it is added. Each is posted the
data it would accept (real credentials, real reference, real version), so the token is the only thing
missing; the refusal must be a 400 raised by the CSRF check itself (its log line says why), and nothing
may change: no rows, no new version, no sign-in, no sign-out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import csrf, db
from app.models import AuditEvent, ConsultationRequest, Draft, RequestEvent, Screening, StaffSession, StaffUser
from app.screening.questions import PAGES
from tests.answers import answers_with
from tests.factories import PASSWORD, login, make_staff, patient_request
from tests.journey import CONTACT, answer_all, csrf_token

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EXPECTED = {
    "public.question_page", "public.check_answers", "public.request_details", "public.request_check",
    "staff.login", "staff.logout", "staff.queue_search", "staff.accounts", "staff.account_disable",
    "staff.account_enable", "staff.request_assign", "staff.request_contact", "staff.request_status",
    "staff.request_note",
}


# The text provider's webhooks cannot carry a CSRF token: each is refused unless it carries the provider's
# signature instead (tests/test_texting.py::test_a_webhook_with_a_bad_or_missing_signature_is_refused...).
SIGNED_WEBHOOKS = {"text_webhooks.inbound", "text_webhooks.status"}


def unsafe_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every route that accepts a method that can change something (but webhooks)."""
    return sorted((rule.endpoint, method, rule.rule) for rule in app.url_map.iter_rules()
                  for method in (rule.methods or set()) & UNSAFE_METHODS if rule.endpoint not in SIGNED_WEBHOOKS)


def concrete(rule: str, *, reference: str, user_id: int) -> str:
    """A real URL for ``rule``: an existing request, page and account, so only the token can be wrong."""
    url = rule.replace("<reference>", reference).replace("<slug>", PAGES[0].slug).replace("<token>", "x" * 43)
    url = re.sub(r"<int:[^>]+>", str(user_id), url)
    assert "<" not in url, f"add a value for {rule}"
    return url


def row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        counts = {model.__tablename__: int(db.session.scalar(select(func.count()).select_from(model)) or 0)
                  for model in (Draft, Screening, ConsultationRequest, RequestEvent, StaffUser, StaffSession)}
        counts["versions"] = int(db.session.scalar(select(func.sum(ConsultationRequest.version))) or 0)
        counts["active"] = int(db.session.scalar(select(func.count()).select_from(StaffUser)
                                                 .where(StaffUser.active.is_(True))) or 0)
        # Refused sign-ins may be audited; nothing else may be.
        counts["audited"] = int(db.session.scalar(select(func.count()).select_from(AuditEvent)
                                                  .where(AuditEvent.action != "login_failed")) or 0)
        return counts


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    """A stored request, an admin and a colleague."""
    reference = patient_request(app)
    admin = make_staff(app, "admin")
    colleague = make_staff(app, "frontdesk")
    with app.app_context():
        version = db.session.scalars(select(ConsultationRequest.version)).one()
    return {"reference": reference, "admin": admin, "colleague": colleague, "version": version}


def form_data(world: dict[str, Any]) -> dict[str, Any]:
    """Everything any of the forms would accept, so a missing token is the only reason to refuse."""
    return {
        **CONTACT, "red_flags": ["none"], "email": world["admin"]["email"], "password": PASSWORD,
        "name": "New Person", "role": "frontdesk", "q": "García", "version": str(world["version"]),
        "assignee": str(world["colleague"]["id"]), "method": "phone", "outcome": "reached",
        "status": "in_progress", "text": "A note", "code": "123456",
    }


def bad_tokens(own_client: FlaskClient, app: Flask, endpoint: str) -> dict[str, Callable[[], dict[str, str]]]:
    """Ways to send a token that must not be accepted at ``endpoint``, by name."""
    own_page, other_half = ("/staff/login", "/questions/safety") if endpoint.startswith("staff.") else (
        "/questions/safety", "/staff/login")

    def from_another_browser() -> dict[str, str]:
        return {"csrf_token": csrf_token(app.test_client().get(own_page, follow_redirects=True).text)}

    def from_the_other_half_of_the_site() -> dict[str, str]:
        # The patient pages and the console have separate cookies; a token from one must not work in the other.
        return {"csrf_token": csrf_token(own_client.get(other_half, follow_redirects=True).text)}

    return {
        "missing": dict,
        "empty": lambda: {"csrf_token": ""},
        "garbage": lambda: {"csrf_token": "IjEyMyI.garbage.garbage"},
        "another browser's": from_another_browser,
        "the other cookie's": from_the_other_half_of_the_site,
        "in a header only": lambda: {},  # see HEADER_ONLY: a made-up token in X-CSRFToken
    }


HEADER_ONLY = "in a header only"


def assert_all_refused(app: Flask, client: FlaskClient, world: dict[str, Any], caplog: pytest.LogCaptureFixture,
                       *, skip_token: Callable[[str, str], bool]) -> int:
    """POST every unsafe route with every bad token; each must be a 400 from the CSRF check."""
    caplog.set_level(logging.INFO, logger="flask_wtf.csrf")
    refused = 0
    for endpoint, method, rule in unsafe_routes(app):
        url = concrete(rule, reference=world["reference"], user_id=world["colleague"]["id"])
        for name, token in bad_tokens(client, app, endpoint).items():
            if skip_token(endpoint, name):
                continue
            data = {**form_data(world), **token()}
            headers = {"X-CSRFToken": "IjEyMyI.made.up"} if name == HEADER_ONLY else {}
            before = row_counts(app)
            caplog.clear()
            response = client.open(url, method=method, data=data, headers=headers)
            assert response.status_code == 400, (endpoint, name, response.status_code)
            reasons = [r.getMessage() for r in caplog.records if r.name == "flask_wtf.csrf"]
            assert reasons and "CSRF" in reasons[0], (endpoint, name, reasons)
            assert row_counts(app) == before, (endpoint, name)
            refused += 1
    return refused


def test_csrf_is_on_for_every_view(app: Flask) -> None:
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    assert app.config.get("WTF_CSRF_CHECK_DEFAULT", True) is True
    assert set(app.config.get("WTF_CSRF_METHODS", UNSAFE_METHODS)) >= UNSAFE_METHODS
    # Nothing opted out but the signed webhooks.
    assert csrf._exempt_views == {f"app.web.text_webhooks.{name.split('.')[1]}" for name in SIGNED_WEBHOOKS}
    assert not csrf._exempt_blueprints


def test_the_map_has_every_form(app: Flask) -> None:
    assert {endpoint for endpoint, _, _ in unsafe_routes(app)} >= EXPECTED


def test_an_anonymous_visitor_is_refused_everywhere(app: Flask, world: dict[str, Any],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    client = app.test_client()
    refused = assert_all_refused(app, client, world, caplog, skip_token=lambda endpoint, name: False)
    assert refused >= len(EXPECTED) * 6
    assert client.get("/staff/requests").status_code == 302  # the login without a token did not sign in


def test_a_signed_in_admin_and_a_patient_with_a_draft_are_refused_everywhere(
    app: Flask, world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    answer_all(client, {"red_flags": ["none"]})  # a patient draft in this browser ...
    login(client, world["admin"])  # ... and a staff session beside it
    with app.app_context():
        draft_answers = db.session.scalars(select(Draft.answers)).all()
    refused = assert_all_refused(app, client, world, caplog, skip_token=lambda endpoint, name: False)
    assert refused >= len(EXPECTED) * 6
    assert client.get("/staff/requests").status_code == 200  # the logout without a token did not sign out
    with app.app_context():
        assert db.session.scalars(select(Draft.answers)).all() == draft_answers


@pytest.mark.parametrize("role", ["frontdesk", "clinician"])
def test_other_roles_are_refused_before_their_role_is_even_checked(
    app: Flask, world: dict[str, Any], role: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    login(client, make_staff(app, role))
    assert assert_all_refused(app, client, world, caplog,
                              skip_token=lambda endpoint, name: name not in ("missing", "another browser's")) > 0


def test_a_valid_token_is_accepted(app: Flask, world: dict[str, Any]) -> None:
    """The control: with its own token, the same post goes through (so the 400s above were the token's)."""
    client = app.test_client()
    token = csrf_token(client.get("/questions/safety").text)
    assert client.post("/questions/safety", data={"csrf_token": token, "red_flags": ["none"]}).status_code == 303
    token = csrf_token(client.get("/staff/login").text)
    response = client.post("/staff/login", data={"csrf_token": token, "email": world["admin"]["email"],
                                                 "password": PASSWORD})
    assert response.status_code == 303
    token = csrf_token(client.get("/staff/requests").text)
    assert client.post("/staff/requests", data={"csrf_token": token, "q": "x"}).status_code == 303
    answer_all(client, answers_with())  # the patient half of the same browser still works


def test_over_https_a_browser_that_sends_no_referer_is_not_turned_away(app: Flask) -> None:
    client = app.test_client()
    https = {"base_url": "https://screen.valley.example"}
    token = csrf_token(client.get("/questions/safety", **https).text)
    response = client.post("/questions/safety", data={"csrf_token": token, "red_flags": ["none"]}, **https)
    assert response.status_code == 303  # Flask-WTF's strict Referer check would have refused it


def test_a_refused_form_says_what_to_do_and_the_log_says_why(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = app.test_client()
    client.get("/questions/safety")
    with caplog.at_level(logging.WARNING):
        response = client.post("/questions/safety", data={"red_flags": ["bladder_bowel"], "age": "71"})
    assert response.status_code == 400
    assert "We could not save that page" in response.text
    assert 'href="/questions/safety"' in response.text  # straight back to the page
    assert "cookies" in response.text.split("We could not save that page", 2)[2]  # a later hint, not the blame
    logged = [r.getMessage() for r in caplog.records if "form refused" in r.getMessage()]
    assert logged == ["form refused on POST /questions/safety: The CSRF token is missing."]
    assert "bladder" not in caplog.text and "71" not in caplog.text
    spanish = app.test_client().post("/questions/safety", data={}, headers={"Accept-Language": "es"})
    assert "No pudimos guardar esa página" in spanish.text


def test_a_post_whose_origin_is_another_site_is_refused(app: Flask) -> None:
    client = app.test_client()
    token = csrf_token(client.get("/questions/safety").text)
    refused = client.post("/questions/safety", data={"csrf_token": token, "red_flags": ["none"]},
                          headers={"Origin": "https://evil.example"})
    assert refused.status_code == 400
    allowed = client.post("/questions/safety", data={"csrf_token": token, "red_flags": ["none"]},
                          headers={"Origin": "http://localhost"})
    assert allowed.status_code == 303
