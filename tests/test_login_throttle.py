"""Sign-in throttling: a per-account lock after 5 failures in 15 minutes, and a per-address rate limit."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, StaffUser, utcnow
from tests.factories import PASSWORD, make_staff, staff_token

LOGIN = "/staff/login"
WRONG = "not the right password"


def attempt(client: FlaskClient, email: str, password: str) -> Any:
    return client.post(LOGIN, data={"csrf_token": staff_token(client, LOGIN), "email": email, "password": password})


def message(response: Any) -> str:
    """The flash message a refused sign-in shows."""
    found = re.search(r'<div class="flash flash--error" role="alert">([^<]*)</div>', response.text)
    assert found, response.text
    return found.group(1)


def account_state(app: Flask, staff_id: int) -> StaffUser:
    with app.app_context():
        user = db.session.get(StaffUser, staff_id)
        assert user is not None
        db.session.expunge(user)
        return user


def audited(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def rewind(app: Flask, staff_id: int, delta: timedelta) -> None:
    """Move the account's throttling timestamps into the past, as if ``delta`` had passed."""
    with app.app_context():
        user = db.session.get(StaffUser, staff_id)
        assert user is not None
        if user.locked_until is not None:
            user.locked_until -= delta
        if user.failed_window_started_at is not None:
            user.failed_window_started_at -= delta
        db.session.commit()


def test_five_failures_lock_the_account_and_the_right_password_gets_the_same_message(
        app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    unknown = message(attempt(client, "nobody@clinic.example", PASSWORD))
    for number in range(1, 6):
        response = attempt(client, account["email"], WRONG)
        assert response.status_code == 200 and message(response) == unknown, number
    user = account_state(app, account["id"])
    assert user.locked_until is not None
    assert timedelta(minutes=14) < user.locked_until - utcnow() <= timedelta(minutes=15)
    [lock] = audited(app, "login_locked")
    assert (lock.staff_id, lock.target_id) == (account["id"], str(account["id"]))

    right = attempt(client, account["email"], PASSWORD)
    assert right.status_code == 200 and message(right) == unknown
    assert client.get("/staff/requests").status_code == 302
    failures = audited(app, "login_failed")
    assert [f.detail["reason"] for f in failures] == ["unknown"] + ["password"] * 5 + ["locked"]
    assert len(audited(app, "login_locked")) == 1  # attempts while locked do not start another lock
    assert audited(app, "login") == []


def test_the_account_unlocks_after_the_window(app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    for _ in range(5):
        attempt(client, account["email"], WRONG)
    assert attempt(client, account["email"], PASSWORD).status_code == 200
    rewind(app, account["id"], timedelta(minutes=15))
    assert attempt(client, account["email"], PASSWORD).status_code == 303
    user = account_state(app, account["id"])
    assert (user.failed_logins, user.locked_until, user.failed_window_started_at) == (0, None, None)


def test_failures_further_apart_than_the_window_do_not_add_up(app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    for _ in range(4):
        attempt(client, account["email"], WRONG)
    rewind(app, account["id"], timedelta(minutes=16))
    attempt(client, account["email"], WRONG)
    user = account_state(app, account["id"])
    assert (user.failed_logins, user.locked_until) == (1, None)
    assert attempt(client, account["email"], PASSWORD).status_code == 303


def test_a_successful_sign_in_clears_the_count(app: Flask) -> None:
    account = make_staff(app, "frontdesk")
    first = app.test_client()
    for _ in range(4):
        attempt(first, account["email"], WRONG)
    assert attempt(first, account["email"], PASSWORD).status_code == 303
    second = app.test_client()
    for _ in range(4):
        attempt(second, account["email"], WRONG)
    assert attempt(second, account["email"], PASSWORD).status_code == 303


def test_a_lock_on_one_account_leaves_others_alone(app: Flask, client: FlaskClient) -> None:
    locked, other = make_staff(app, "frontdesk"), make_staff(app, "frontdesk")
    for _ in range(5):
        attempt(client, locked["email"], WRONG)
    assert attempt(client, other["email"], PASSWORD).status_code == 303


def test_the_per_address_limit_answers_429(make_app: Callable[..., Flask]) -> None:
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute")
    account = make_staff(app, "frontdesk")
    client = app.test_client()
    for _ in range(3):
        assert attempt(client, "nobody@clinic.example", WRONG).status_code == 200
    assert attempt(client, account["email"], PASSWORD).status_code == 429
    assert client.get(LOGIN).status_code == 200  # only the POSTs are limited
    elsewhere = app.test_client()
    response = elsewhere.post(LOGIN, environ_base={"REMOTE_ADDR": "192.0.2.7"},
                              data={"csrf_token": staff_token(elsewhere, LOGIN), "email": account["email"],
                                    "password": PASSWORD})
    assert response.status_code == 303  # another address has its own allowance


def test_every_refusal_costs_one_password_check(app: Flask, client: FlaskClient,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown email, wrong password and locked account all verify one argon2 hash, so they take as long."""
    import app.security.accounts as accounts

    calls: list[str] = []
    real = accounts.secret_matches

    def counting(hashed: str, secret: str) -> bool:
        calls.append(hashed[:9])
        return real(hashed, secret)

    monkeypatch.setattr(accounts, "secret_matches", counting)
    account = make_staff(app, "frontdesk")
    for email, password in [("nobody@clinic.example", PASSWORD)] + [(account["email"], WRONG)] * 5 + [
            (account["email"], PASSWORD)]:
        calls.clear()
        attempt(client, email, password)
        assert calls == ["$argon2id"], (email, password)


def _lock(app: Flask, client: FlaskClient, account: dict[str, Any]) -> None:
    for _ in range(5):
        attempt(client, account["email"], WRONG)
    assert account_state(app, account["id"]).locked_until is not None


def test_an_admin_sees_a_locked_account_and_unlocks_it(app: Flask, client: FlaskClient) -> None:
    from tests.factories import login

    account = make_staff(app, "frontdesk")
    _lock(app, client, account)
    admin = app.test_client()
    admin_account = make_staff(app, "admin", email="admin@clinic.example")
    login(admin, admin_account)
    page = admin.get("/staff/admin/accounts").text
    assert "<strong>Locked</strong> until" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = admin.post(f"/staff/admin/accounts/{account['id']}/unlock", data={"csrf_token": token})
    assert response.status_code == 303
    assert account_state(app, account["id"]).locked_until is None
    [unlock] = audited(app, "account_unlock")
    assert (unlock.staff_id, unlock.target_id) == (admin_account["id"], str(account["id"]))
    assert "<strong>Locked</strong>" not in admin.get("/staff/admin/accounts").text
    assert attempt(client, account["email"], PASSWORD).status_code == 303  # the owner signs in at once


def test_a_frontdesk_account_cannot_unlock(app: Flask, client: FlaskClient) -> None:
    from tests.factories import login

    account = make_staff(app, "frontdesk")
    _lock(app, client, account)
    other = app.test_client()
    login(other, make_staff(app, "frontdesk", email="other@clinic.example"))
    token = staff_token(other, "/staff/requests")
    assert other.post(f"/staff/admin/accounts/{account['id']}/unlock", data={"csrf_token": token}).status_code == 403
    assert account_state(app, account["id"]).locked_until is not None


def test_flask_staff_unlock_and_a_new_password_each_end_the_lock(app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    _lock(app, client, account)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["staff", "list"])
    assert f"{account['email']}\tfrontdesk\tactive locked" in listed.output
    result = runner.invoke(args=["staff", "unlock", account["email"]])
    assert result.exit_code == 0 and "can sign in again" in result.output
    assert account_state(app, account["id"]).locked_until is None
    assert [event.detail for event in audited(app, "account_unlock")] == [{"via": "cli"}]

    _lock(app, client, account)
    new_password = "a brand new long passphrase"
    result = runner.invoke(args=["staff", "set-password", account["email"], "--password-stdin"],
                           input=new_password + "\n")
    assert result.exit_code == 0
    assert account_state(app, account["id"]).locked_until is None
    assert attempt(client, account["email"], new_password).status_code == 303
