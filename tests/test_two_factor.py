"""Two-factor sign-in: enrolment with a QR code, single-use codes, recovery codes, required enrolment, admin reset."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, RecoveryCode, StaffSession, StaffUser
from tests.factories import PASSWORD, login, make_staff, staff_token

ENROL = "/staff/account/two-factor"
CODE = "/staff/login/code"
QUEUE = "/staff/requests"
ACCOUNTS = "/staff/admin/accounts"


def enrol(client: FlaskClient) -> tuple[str, list[str]]:
    """Set up two-factor on the signed-in account through the page; return the secret and the recovery codes."""
    page = client.get(ENROL).text
    match = re.search(r'<code class="secret" id="secret">([A-Z2-7 ]+)</code>', page)
    assert match, "no key shown for manual entry"
    secret = match.group(1).replace(" ", "")
    response = client.post(ENROL, data={"csrf_token": staff_token(client, ENROL), "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200, response.text
    codes = re.findall(r"<li><code>([A-Z0-9]{5}-[A-Z0-9]{5})</code></li>", response.text)
    return secret, codes


def next_code(secret: str) -> str:
    """The app's code for the next 30-second step: accepted (one step of drift allowed), newer than enrolment's."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def password_step(app: Flask, account: dict[str, Any]) -> tuple[FlaskClient, Any]:
    """A new browser that has given the right password."""
    client = app.test_client()
    response = client.post("/staff/login", data={"csrf_token": staff_token(client, "/staff/login"),
                                                 "email": account["email"], "password": PASSWORD})
    return client, response


def code_step(client: FlaskClient, code: str) -> Any:
    return client.post(CODE, data={"csrf_token": staff_token(client, CODE), "code": code})


def enrolled(app: Flask, role: str = "frontdesk") -> tuple[dict[str, Any], str, list[str]]:
    """An account with two-factor on; its browser signed out again."""
    account = make_staff(app, role)
    client = app.test_client()
    login(client, account)
    secret, codes = enrol(client)
    client.post("/staff/logout", data={"csrf_token": staff_token(client, QUEUE)})
    return account, secret, codes


def actions(app: Flask, staff_id: int | None = None) -> list[str]:
    with app.app_context():
        query = select(AuditEvent.action).order_by(AuditEvent.id)
        if staff_id is not None:
            query = query.where(AuditEvent.staff_id == staff_id)
        return list(db.session.scalars(query))


# --- enrolment --------------------------------------------------------------------------------------

def test_enrolment_shows_a_qr_code_and_the_key_then_recovery_codes_once(app: Flask) -> None:
    account = make_staff(app, "clinician")
    client = app.test_client()
    login(client, account)
    page = client.get(ENROL).text
    assert "<svg" in page and "<path" in page and "QR code for your authenticator app" in page
    assert "<script" not in page.split("<body", 1)[1]  # the QR code is markup drawn on the server
    assert client.get(ENROL).text.count("<svg") == 1
    with app.app_context():
        user = db.session.get(StaffUser, account["id"])
        assert user is not None and user.totp_secret and user.totp_enabled_at is None
        secret = user.totp_secret
    assert secret[:4] in client.get(ENROL).text  # the same key after a reload, so a scanned code keeps working

    wrong = client.post(ENROL, data={"csrf_token": staff_token(client, ENROL), "code": "000000"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.text

    secret, codes = enrol(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    with app.app_context():
        user = db.session.get(StaffUser, account["id"])
        assert user is not None and user.totp_enabled_at is not None
        hashes = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.staff_id == user.id)).all()
        assert len(hashes) == 10 and all(h.startswith("$argon2id$") for h in hashes)
        assert not any(code.replace("-", "") in h for code in codes for h in hashes)
    assert "two_factor_enabled" in actions(app, account["id"])

    again = client.get(ENROL).text
    assert "is on for your account" in again and "10 unused recovery codes" in again
    assert "<svg" not in again and secret[:8] not in again.replace(" ", "") and codes[0] not in again


# --- signing in with a code -------------------------------------------------------------------------

def test_password_then_code_and_each_code_works_once(app: Flask) -> None:
    account, secret, _ = enrolled(app)
    client, response = password_step(app, account)
    assert response.status_code == 303 and response.headers["Location"] == CODE
    assert client.get(QUEUE).status_code == 302  # half signed in: nothing but the code page
    assert client.get(ACCOUNTS).status_code == 302
    code = next_code(secret)
    signed = code_step(client, code)
    assert signed.status_code == 303 and signed.headers["Location"] == QUEUE
    assert client.get(QUEUE).status_code == 200
    assert client.get(CODE).status_code == 403  # the code page is not for a signed-in account
    with app.app_context():
        login_event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login")
                                         .order_by(AuditEvent.id.desc())).first()
        assert login_event is not None and login_event.detail == {"second_factor": "totp"}

    replayed_client, _ = password_step(app, account)
    replayed = code_step(replayed_client, code)
    assert replayed.status_code == 200 and "That code is not right" in replayed.text
    assert replayed_client.get(QUEUE).status_code == 302
    with app.app_context():
        failure = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")).one()
        assert (failure.staff_id, failure.detail) == (account["id"], {"reason": "code"})


def test_next_is_kept_through_the_code_step(app: Flask) -> None:
    account, secret, _ = enrolled(app)
    client = app.test_client()
    response = client.post("/staff/login?next=/staff/requests%3Fstatus%3Dopen",
                           data={"csrf_token": staff_token(client, "/staff/login"), "email": account["email"],
                                 "password": PASSWORD})
    assert response.headers["Location"] == CODE
    assert code_step(client, next_code(secret)).headers["Location"] == "/staff/requests?status=open"


def test_a_wrong_password_never_reaches_the_code_step(app: Flask) -> None:
    account, _, _ = enrolled(app)
    client = app.test_client()
    refused = client.post("/staff/login", data={"csrf_token": staff_token(client, "/staff/login"),
                                                "email": account["email"], "password": "not the password"})
    assert refused.status_code == 200 and "The email or password is not right" in refused.text
    assert client.get(CODE).status_code == 302  # no half-signed-in state: back to the password


def test_the_half_signed_in_state_expires(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from app.staff import sessions

    account, secret, _ = enrolled(app)
    monkeypatch.setattr(sessions, "SECOND_STEP_TIME", timedelta(seconds=-1))
    client, response = password_step(app, account)
    assert response.headers["Location"] == CODE
    late = client.get(CODE)
    assert late.status_code == 302 and late.headers["Location"].startswith("/staff/login")
    assert client.post(CODE, data={"csrf_token": staff_token(client, "/staff/login"),
                                   "code": next_code(secret)}).status_code == 401


def test_a_recovery_code_works_once(app: Flask) -> None:
    account, _, codes = enrolled(app)
    client, _ = password_step(app, account)
    typed = codes[3].lower().replace("-", " ")  # as someone might type it from paper
    signed = code_step(client, typed)
    assert signed.status_code == 303
    assert actions(app, account["id"])[-2:] == ["recovery_code_used", "login"]
    assert client.get(QUEUE).status_code == 200
    with app.app_context():
        used = db.session.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).all()
        assert len(used) == 1
    assert "9 unused recovery codes" in client.get(ENROL).text

    again, _ = password_step(app, account)
    refused = code_step(again, codes[3])
    assert refused.status_code == 200 and "That code is not right" in refused.text
    other, _ = password_step(app, account)
    assert code_step(other, codes[4]).status_code == 303


def test_wrong_codes_count_towards_the_account_lock(app: Flask) -> None:
    account, _, _ = enrolled(app)
    client, _ = password_step(app, account)
    for _ in range(4):
        assert code_step(client, "123456").status_code == 200
    locked = code_step(client, "654321")
    assert locked.status_code == 303 and locked.headers["Location"] == "/staff/login"
    assert "Too many failed attempts" in client.get("/staff/login").text
    assert "login_locked" in actions(app, account["id"])
    _, response = password_step(app, account)  # the right password is refused while locked
    assert response.status_code == 200 and "The email or password is not right" in response.text


# --- required two-factor ----------------------------------------------------------------------------

def staff_get_urls(app: Flask) -> list[str]:
    """Every staff page (GET) except sign-in, two-factor set-up and sign-out."""
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("staff.") and "GET" in rule.methods and rule.endpoint not in (
                "staff.login", "staff.login_code", "staff.two_factor"):
            urls.append(re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule))
    return urls


def test_required_two_factor_sends_a_new_account_to_enrolment_and_nowhere_else(
        make_app: Callable[..., Flask]) -> None:
    app = make_app(STAFF_REQUIRE_2FA=True)
    account = make_staff(app, "admin")
    client = app.test_client()
    token = staff_token(client, "/staff/login")
    response = client.post("/staff/login", data={"csrf_token": token, "email": account["email"],
                                                 "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == ENROL
    page = client.get(ENROL).text
    assert "Set up two-factor sign-in to use the console" in page and 'href="/staff/requests"' not in page
    urls = staff_get_urls(app)
    assert QUEUE in urls and ACCOUNTS in urls
    for url in urls:
        refused = client.get(url)
        assert refused.status_code == 302 and refused.headers["Location"] == ENROL, url
    token = staff_token(client, ENROL)
    other = make_staff(app, "frontdesk")
    assert client.post(f"{ACCOUNTS}/{other['id']}/disable", data={"csrf_token": token}).status_code == 403
    assert client.post("/staff/session/keepalive", headers={"X-CSRFToken": token}).status_code == 204

    secret, codes = enrol(client)
    assert len(codes) == 10
    assert client.get(QUEUE).status_code == 200 and client.get(ACCOUNTS).status_code == 200

    client.post("/staff/logout", data={"csrf_token": staff_token(client, QUEUE)})
    later, response = password_step(app, account)
    assert response.headers["Location"] == CODE
    assert code_step(later, next_code(secret)).headers["Location"] == QUEUE


# --- admin reset ------------------------------------------------------------------------------------

def test_an_admin_resets_someones_two_factor(app: Flask) -> None:
    account, secret, _ = enrolled(app)
    colleague, _ = password_step(app, account)
    code_step(colleague, next_code(secret))
    assert colleague.get(QUEUE).status_code == 200

    admin = app.test_client()
    admin_account = make_staff(app, "admin")
    login(admin, admin_account)
    page = admin.get(ACCOUNTS).text
    assert f"/accounts/{account['id']}/reset-two-factor" in page
    assert f"/accounts/{admin_account['id']}/reset-two-factor" not in page
    response = admin.post(f"{ACCOUNTS}/{account['id']}/reset-two-factor",
                          data={"csrf_token": staff_token(admin, ACCOUNTS)})
    assert response.status_code == 303
    assert "Two-factor sign-in is off for" in html.unescape(admin.get(ACCOUNTS).text)

    with app.app_context():
        user = db.session.get(StaffUser, account["id"])
        assert user is not None and (user.totp_secret, user.totp_enabled_at) == (None, None)
        assert db.session.scalars(select(RecoveryCode).where(RecoveryCode.staff_id == user.id)).all() == []
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "two_factor_reset")).one()
        assert (event.staff_id, event.target_id) == (admin_account["id"], str(account["id"]))
        ended = db.session.scalars(select(StaffSession.end_reason).where(StaffSession.staff_id == user.id,
                                                                           StaffSession.ended_at.is_not(None)))
        assert "admin" in list(ended)
    assert colleague.get(QUEUE).status_code == 302  # signed out by the reset

    fresh = app.test_client()
    login(fresh, account)  # password only again (two-factor is not required here)
    assert fresh.get(QUEUE).status_code == 200


def test_reset_is_for_admins_only_and_not_for_ones_own_account(app: Flask) -> None:
    account, _, _ = enrolled(app)
    desk = app.test_client()
    login(desk, make_staff(app, "frontdesk"))
    url = f"{ACCOUNTS}/{account['id']}/reset-two-factor"
    assert desk.post(url, data={"csrf_token": staff_token(desk, QUEUE)}).status_code == 403

    admin_account = make_staff(app, "admin")
    admin = app.test_client()
    login(admin, admin_account)
    enrol(admin)
    response = admin.post(f"{ACCOUNTS}/{admin_account['id']}/reset-two-factor",
                          data={"csrf_token": staff_token(admin, ACCOUNTS)})
    assert response.status_code == 303
    assert "You cannot reset your own two-factor sign-in" in admin.get(ACCOUNTS).text
    assert "two_factor_reset" not in actions(app)
