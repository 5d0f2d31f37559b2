"""Deny by default: every staff endpoint refuses anonymous users and lower roles; sign-in and sign-out."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.factories import PASSWORD, login, make_staff, patient_request, staff_token
from tests.journey import csrf_token

ROLES = ("frontdesk", "clinician", "admin")


def staff_rules(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, concrete URL) for every staff route in the URL map."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("staff."):
            continue
        url = re.sub(r"<(?:[^:>]+:)?reference>", "AAAA-BBBB", rule.rule)
        url = re.sub(r"<(?:int:)?[^>]+>", "1", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


def test_the_map_has_the_console(app: Flask) -> None:
    endpoints = {endpoint for endpoint, _, _ in staff_rules(app)}
    assert {"staff.login", "staff.queue", "staff.request_detail", "staff.export_csv", "staff.accounts",
            "staff.audit_log", "staff.export_fhir", "staff.request_fhir", "staff.codebook", "staff.codebook_download",
            "staff.dashboard"} <= endpoints


def test_no_staff_endpoint_answers_an_anonymous_user(app: Flask, client: FlaskClient) -> None:
    token = staff_token(client, "/staff/login")  # a valid CSRF token, so only the sign-in check can refuse
    for endpoint, method, url in staff_rules(app):
        if endpoint == "staff.login":
            continue
        response = client.open(url, method=method, data={"csrf_token": token} if method != "GET" else None)
        if method == "GET":
            assert response.status_code == 302, (endpoint, response.status_code)
            assert response.headers["Location"].startswith("/staff/login?next=")
        else:
            assert response.status_code == 401, (endpoint, method, response.status_code)


def test_json_request_gets_401_not_a_redirect(client: FlaskClient) -> None:
    response = client.get("/staff/requests", headers={"Accept": "application/json"})
    assert response.status_code == 401


@pytest.mark.parametrize("role", ROLES)
def test_no_staff_endpoint_answers_a_role_it_does_not_allow(app: Flask, role: str) -> None:
    account = make_staff(app, role)
    client = app.test_client()
    login(client, account)
    token = staff_token(client, "/staff/requests")
    checked = 0
    for endpoint, method, url in staff_rules(app):
        view = app.view_functions[endpoint]
        allowed = getattr(view, "allowed_roles", None)
        if endpoint in ("staff.login", "staff.logout"):
            continue
        assert allowed is not None, f"{endpoint} has no role check"
        if role in allowed:
            continue
        response = client.open(url, method=method, data={"csrf_token": token} if method != "GET" else None)
        assert response.status_code == 403, (role, endpoint, method, response.status_code)
        checked += 1
    if role != "admin":
        assert checked > 0  # a lower role is refused somewhere


def test_role_matrix_on_a_real_request(app: Flask) -> None:
    reference = patient_request(app)
    expectations = {  # (role, url, method): allowed
        "frontdesk": {"/staff/requests": True, f"/staff/requests/{reference}": True, "/staff/requests.csv": True,
                      "/staff/admin/accounts": False, "/staff/admin/audit": False},
        "clinician": {"/staff/requests": True, f"/staff/requests/{reference}": True, "/staff/requests.csv": False,
                      "/staff/admin/accounts": False, "/staff/admin/audit": False},
        "admin": {"/staff/requests": True, f"/staff/requests/{reference}": True, "/staff/requests.csv": True,
                  "/staff/admin/accounts": True, "/staff/admin/audit": True},
    }
    for role, urls in expectations.items():  # the FHIR downloads go with the CSV; the codebook is for everyone
        urls.update({"/staff/requests.fhir.json": urls["/staff/requests.csv"],
                     f"/staff/requests/{reference}/fhir.json": urls["/staff/requests.csv"],
                     "/staff/codebook": True, "/staff/codebook.csv": True, "/staff/dashboard": role != "frontdesk"})
    for role, urls in expectations.items():
        client = app.test_client()
        login(client, make_staff(app, role))
        for url, allowed in urls.items():
            assert client.get(url).status_code == (200 if allowed else 403), (role, url)


def test_clinician_can_note_but_not_change_status(app: Flask) -> None:
    reference = patient_request(app)
    client = app.test_client()
    login(client, make_staff(app, "clinician"))
    page = client.get(f"/staff/requests/{reference}").text
    assert "Add a note" in page and "Change status" not in page
    token = csrf_token(page)
    assert client.post(f"/staff/requests/{reference}/status",
                       data={"csrf_token": token, "version": "1", "status": "in_progress"}).status_code == 403
    assert client.post(f"/staff/requests/{reference}/note",
                       data={"csrf_token": token, "text": "MRI reviewed"}).status_code == 303


def test_wrong_password_and_unknown_email_get_the_same_message(app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    token = staff_token(client, "/staff/login")
    wrong = client.post("/staff/login", data={"csrf_token": token, "email": account["email"], "password": "x" * 12})
    unknown = client.post("/staff/login", data={"csrf_token": token, "email": "nobody@clinic.example",
                                                "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 200
    message = "The email or password is not right"
    assert message in wrong.text and message in unknown.text
    with app.app_context():
        failures = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")).all()
        assert [f.staff_id for f in failures] == [account["id"], None]
        assert all(f.ip == "127.0.0.1" for f in failures)


def test_login_is_case_insensitive_on_email_and_audited(app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    login(client, {**account, "email": account["email"].upper()})
    assert client.get("/staff/requests").status_code == 200
    with app.app_context():
        assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.staff_id == account["id"])).first() \
            == "login"


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [("/staff/admin/audit?action=login", "/staff/admin/audit?action=login"),
     ("https://evil.example/", "/staff/requests"), ("//evil.example/x", "/staff/requests"),
     ("/\\evil.example", "/staff/requests"), ("javascript:alert(1)", "/staff/requests")],
)
def test_next_only_goes_to_a_local_path(app: Flask, client: FlaskClient, next_url: str, lands_on: str) -> None:
    account = make_staff(app, "admin")
    token = staff_token(client, "/staff/login")
    response = client.post("/staff/login", query_string={"next": next_url},
                           data={"csrf_token": token, "email": account["email"], "password": PASSWORD})
    assert response.headers["Location"] == lands_on


def test_logout_ends_the_session_and_is_audited(app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    login(client, account)
    token = staff_token(client, "/staff/requests")
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/staff/requests").status_code == 302
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions[-1] == "logout"


def test_disabled_account_cannot_sign_in_and_is_signed_out(app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    login(client, account)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["staff", "disable", account["email"]]).exit_code == 0
    assert client.get("/staff/requests").status_code == 302  # the live session no longer works
    token = staff_token(client, "/staff/login")
    response = client.post("/staff/login", data={"csrf_token": token, "email": account["email"],
                                                 "password": PASSWORD})
    assert response.status_code == 200


def test_login_form_needs_csrf(app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    response = client.post("/staff/login", data={"email": account["email"], "password": PASSWORD})
    assert response.status_code == 400


def test_console_pages_are_never_cached(app: Flask, client: FlaskClient) -> None:
    reference = patient_request(app)
    login(client, make_staff(app, "frontdesk"))
    for url in ("/staff/requests", f"/staff/requests/{reference}", "/staff/login"):
        assert client.get(url).headers["Cache-Control"] == "no-store", url
