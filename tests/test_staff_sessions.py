"""Staff sessions held on the server: a separate cookie, regenerated at sign-in, ended at sign-out, after
15 minutes idle or 12 hours in any case, by an admin, or when the account is disabled or its password changes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import BadSignature
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, StaffSession, utcnow
from app.screening.questions import PAGES
from app.security.staff_sessions import hash_token
from tests.answers import answers_with
from tests.factories import PASSWORD, login, make_staff, staff_token
from tests.journey import csrf_token, form_data, post_page

STAFF_COOKIE = "mild_staff"
DRAFT_COOKIE = "mild_draft"
QUEUE = "/staff/requests"
ACCOUNTS = "/staff/admin/accounts"
KEEPALIVE = "/staff/session/keepalive"


def signed_in(app: Flask, role: str = "frontdesk") -> tuple[FlaskClient, dict[str, Any]]:
    """A browser signed in through the login form."""
    account = make_staff(app, role)
    client = app.test_client()
    login(client, account)
    return client, account


def cookie(client: FlaskClient, name: str = STAFF_COOKIE) -> str | None:
    found = client.get_cookie(name)
    return found.value if found else None


def sessions_of(app: Flask, staff_id: int) -> list[StaffSession]:
    with app.app_context():
        return list(db.session.scalars(select(StaffSession).where(StaffSession.staff_id == staff_id)
                                       .order_by(StaffSession.created_at)))


def shift(app: Flask, staff_id: int, **back: timedelta) -> None:
    """Move the account's open session's timestamps into the past, as if time had passed."""
    with app.app_context():
        row = db.session.scalars(select(StaffSession).where(StaffSession.staff_id == staff_id,
                                                            StaffSession.ended_at.is_(None))).one()
        for column, delta in back.items():
            setattr(row, column, getattr(row, column) - delta)
        db.session.commit()


def replay(app: Flask, value: str) -> FlaskClient:
    """Another browser holding a copy of a staff cookie."""
    thief = app.test_client()
    thief.set_cookie(STAFF_COOKIE, value)
    return thief


def cookie_data(app: Flask, value: str) -> dict[str, Any]:
    """What a staff cookie holds (it is signed, not encrypted)."""
    with app.test_request_context("/staff/login"):
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        return dict(serializer.loads(value))


# --- the cookie -------------------------------------------------------------------------------------

def test_sign_in_regenerates_the_session_and_the_cookie_holds_only_a_token(app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    client.get("/staff/login")
    before = cookie(client)
    assert before is not None
    login(client, account)
    after = cookie(client)
    assert after is not None and after != before
    assert replay(app, before).get(QUEUE).status_code == 302  # the pre-sign-in cookie grants nothing
    [row] = sessions_of(app, account["id"])
    token = cookie_data(app, after)["staff_session"]
    assert row.token_hash == hash_token(token) and token not in row.token_hash
    assert (row.ended_at, row.ip) == (None, "127.0.0.1")


def test_signing_in_again_starts_a_new_session(app: Flask, client: FlaskClient) -> None:
    account = make_staff(app, "frontdesk")
    login(client, account)
    first = cookie(client)
    client.post("/staff/logout", data={"csrf_token": staff_token(client, QUEUE)})
    login(client, account)
    assert cookie(client) != first
    rows = sessions_of(app, account["id"])
    assert [row.end_reason for row in rows] == ["logout", None]


def test_staff_and_patient_cookies_are_separate(app: Flask, client: FlaskClient) -> None:
    first, second = PAGES[0], PAGES[1]
    assert post_page(client, first.slug, form_data(first, answers_with())).status_code == 303
    draft = cookie(client, DRAFT_COOKIE)
    assert draft is not None and cookie(client) is None
    assert client.get(f"/questions/{second.slug}").status_code == 200  # the draft carries the first answers

    account = make_staff(app, "frontdesk")
    token = staff_token(client, "/staff/login")
    response = client.post("/staff/login", data={"csrf_token": token, "email": account["email"],
                                                 "password": PASSWORD})
    assert response.status_code == 303
    set_cookies = response.headers.getlist("Set-Cookie")
    assert all(header.startswith(f"{STAFF_COOKIE}=") for header in set_cookies)
    assert cookie(client) is not None and cookie(client, DRAFT_COOKIE) == draft
    assert client.get(QUEUE).status_code == 200

    client.post("/staff/logout", data={"csrf_token": staff_token(client, QUEUE)})
    assert client.get(QUEUE).status_code == 302
    assert cookie(client, DRAFT_COOKIE) == draft
    assert client.get(f"/questions/{second.slug}").status_code == 200  # the patient's answers are still there


def test_the_two_cookies_are_signed_differently(app: Flask, client: FlaskClient) -> None:
    first = PAGES[0]
    post_page(client, first.slug, form_data(first, answers_with()))
    draft = cookie(client, DRAFT_COOKIE)
    assert draft is not None
    with pytest.raises(BadSignature):
        cookie_data(app, draft)  # a patient cookie copied under the staff name is not a staff session
    thief = app.test_client()
    thief.set_cookie(STAFF_COOKIE, draft)
    assert thief.get(QUEUE).status_code == 302


def test_production_cookies_use_the_host_prefix_and_are_secure(make_app: Callable[..., Flask]) -> None:
    app = make_app(STAFF_SESSION_COOKIE_NAME="__Host-mild_staff", SESSION_COOKIE_NAME="__Host-mild_draft",
                   SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    https = "https://localhost"
    staff = client.get("/staff/login", base_url=https).headers["Set-Cookie"]
    first = PAGES[0]
    token = csrf_token(client.get(f"/questions/{first.slug}", base_url=https).text)
    answered = client.post(f"/questions/{first.slug}", base_url=https, headers={"Referer": f"{https}/"},
                           data={"csrf_token": token, **form_data(first, answers_with())})  # HTTPS: same-origin check
    assert answered.status_code == 303
    [patient] = answered.headers.getlist("Set-Cookie")
    assert staff.startswith("__Host-mild_staff=") and patient.startswith("__Host-mild_draft=")
    for header in (staff, patient):
        assert "; Secure" in header and "; HttpOnly" in header and "; Path=/" in header and "SameSite=Lax" in header
        assert "Domain=" not in header


# --- sign-out and copied cookies ----------------------------------------------------------------------

def test_after_sign_out_a_copy_of_the_cookie_is_refused(app: Flask) -> None:
    client, account = signed_in(app)
    copied = cookie(client)
    assert copied is not None and replay(app, copied).get(QUEUE).status_code == 200
    assert client.post("/staff/logout", data={"csrf_token": staff_token(client, QUEUE)}).status_code == 303
    assert replay(app, copied).get(QUEUE).status_code == 302
    assert replay(app, copied).get(QUEUE, headers={"Accept": "application/json"}).status_code == 401
    [row] = sessions_of(app, account["id"])
    assert row.end_reason == "logout" and row.ended_at is not None


# --- idle and absolute limits -------------------------------------------------------------------------

def test_after_15_minutes_idle_the_session_has_ended(app: Flask) -> None:
    client, account = signed_in(app)
    shift(app, account["id"], last_seen_at=timedelta(minutes=16))
    response = client.get(QUEUE)
    assert response.status_code == 302 and response.headers["Location"].startswith("/staff/login")
    assert "not used for 15 minutes" in client.get(response.headers["Location"]).text
    [row] = sessions_of(app, account["id"])
    assert row.end_reason == "idle"
    assert row.ended_at == row.last_seen_at + timedelta(minutes=15)  # when it lapsed, not when it was noticed
    login(client, account)  # signing in again works
    assert client.get(QUEUE).status_code == 200


def test_just_under_15_minutes_idle_the_session_goes_on_and_is_renewed(app: Flask) -> None:
    client, account = signed_in(app)
    shift(app, account["id"], last_seen_at=timedelta(minutes=14, seconds=50))
    assert client.get(QUEUE).status_code == 200
    [row] = sessions_of(app, account["id"])
    assert row.ended_at is None and utcnow() - row.last_seen_at < timedelta(seconds=5)


def test_activity_is_written_at_most_every_30_seconds(app: Flask) -> None:
    client, account = signed_in(app)
    shift(app, account["id"], last_seen_at=timedelta(seconds=10))
    [before] = sessions_of(app, account["id"])
    assert client.get(QUEUE).status_code == 200
    [after] = sessions_of(app, account["id"])
    assert after.last_seen_at == before.last_seen_at


def test_after_12_hours_the_session_ends_even_if_in_use(app: Flask) -> None:
    client, account = signed_in(app)
    shift(app, account["id"], created_at=timedelta(hours=12, minutes=1))
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert "signed in for 12 hours" in client.get(response.headers["Location"]).text
    [row] = sessions_of(app, account["id"])
    assert row.end_reason == "absolute"


# --- ended by an admin, by disabling, by a new password ------------------------------------------------

def test_an_admin_ends_every_session_of_an_account(app: Flask) -> None:
    admin, admin_account = signed_in(app, "admin")
    colleague, account = signed_in(app)
    other_browser = app.test_client()
    login(other_browser, account)
    page = admin.get(ACCOUNTS).text
    assert "2 sessions" in page and f"/accounts/{account['id']}/end-sessions" in page

    response = admin.post(f"{ACCOUNTS}/{account['id']}/end-sessions", data={"csrf_token": staff_token(admin, ACCOUNTS)})
    assert response.status_code == 303
    assert "Every session of" in admin.get(ACCOUNTS).text
    assert colleague.get(QUEUE).status_code == 302 and other_browser.get(QUEUE).status_code == 302
    assert "An administrator ended your session" in colleague.get("/staff/login").text
    assert [row.end_reason for row in sessions_of(app, account["id"])] == ["admin", "admin"]
    assert admin.get(QUEUE).status_code == 200  # the admin's own session is untouched
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sessions_ended")).all()
        assert (event.staff_id, event.target_id, event.detail) == (admin_account["id"], str(account["id"]),
                                                                   {"sessions": 2})


def test_ending_sessions_is_for_admins_only_and_needs_csrf(app: Flask) -> None:
    desk, _ = signed_in(app)
    _, other = signed_in(app)
    url = f"{ACCOUNTS}/{other['id']}/end-sessions"
    assert desk.post(url, data={"csrf_token": staff_token(desk, QUEUE)}).status_code == 403
    admin, _ = signed_in(app, "admin")
    assert admin.post(url).status_code == 400
    assert [row.end_reason for row in sessions_of(app, other["id"])] == [None]


def test_disabling_an_account_on_the_admin_page_ends_its_sessions(app: Flask) -> None:
    admin, _ = signed_in(app, "admin")
    colleague, account = signed_in(app)
    admin.post(f"{ACCOUNTS}/{account['id']}/disable", data={"csrf_token": staff_token(admin, ACCOUNTS)})
    assert [row.end_reason for row in sessions_of(app, account["id"])] == ["disabled"]
    assert colleague.get(QUEUE).status_code == 302


def test_disable_and_set_password_commands_end_sessions(app: Flask) -> None:
    runner = app.test_cli_runner()
    first, account = signed_in(app)
    assert runner.invoke(args=["staff", "set-password", account["email"], "--password-stdin"],
                         input="a brand new passphrase\n").exit_code == 0
    assert first.get(QUEUE).status_code == 302
    assert "Your password was changed" in first.get("/staff/login").text
    second = app.test_client()
    login(second, {**account, "password": "a brand new passphrase"})
    assert runner.invoke(args=["staff", "disable", account["email"]]).exit_code == 0
    assert second.get(QUEUE).status_code == 302
    assert [row.end_reason for row in sessions_of(app, account["id"])] == ["password", "disabled"]


# --- staying signed in ------------------------------------------------------------------------------

def test_console_pages_tell_when_the_session_ends_and_load_the_warning_script(app: Flask) -> None:
    client, _ = signed_in(app)
    page = client.get(QUEUE).text
    assert 'data-session-idle="900"' in page and 'data-keepalive-url="/staff/session/keepalive"' in page
    assert re.search(r'data-session-ends-in="(89\d|900)"', page)
    assert re.search(r"Signed out at <time[^>]*>\d\d:\d\d</time> if idle", page)  # readable without JavaScript
    assert '<script src="/static/staff-session.js" defer></script>' in page
    assert "<script>" not in page and " style=" not in page and " onclick=" not in page
    assert 'id="session-stay"' in page and 'id="session-warning" hidden' in page
    script = client.get("/static/staff-session.js")
    assert script.status_code == 200 and b"keepaliveUrl" in script.data
    script.close()


def test_keepalive_extends_the_session(app: Flask) -> None:
    client, account = signed_in(app)
    shift(app, account["id"], last_seen_at=timedelta(minutes=14))
    token = staff_token(client, QUEUE)  # this page view itself renews; move the clock back again
    shift(app, account["id"], last_seen_at=timedelta(minutes=14))
    response = client.post(KEEPALIVE, headers={"X-CSRFToken": token})
    assert response.status_code == 204 and response.data == b""
    [row] = sessions_of(app, account["id"])
    assert utcnow() - row.last_seen_at < timedelta(seconds=5)
    shift(app, account["id"], last_seen_at=timedelta(minutes=2))
    assert client.get(QUEUE).status_code == 200  # 16 minutes after the page view, still signed in


def test_keepalive_needs_a_live_session_and_a_csrf_token(app: Flask) -> None:
    client, account = signed_in(app)
    token = staff_token(client, QUEUE)
    assert client.post(KEEPALIVE).status_code == 400
    shift(app, account["id"], last_seen_at=timedelta(minutes=16))
    assert client.post(KEEPALIVE, headers={"X-CSRFToken": token}).status_code == 401
    assert sessions_of(app, account["id"])[0].end_reason == "idle"
    anonymous = app.test_client()
    login_token = staff_token(anonymous, "/staff/login")
    assert anonymous.post(KEEPALIVE, headers={"X-CSRFToken": login_token}).status_code == 401
