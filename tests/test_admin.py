"""Administration: staff accounts (list, create, disable, enable) and the read-only audit log."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.casework.audit import record
from app.extensions import db
from app.models import AuditEvent, ConsultationRequest, StaffUser, utcnow
from tests.factories import PASSWORD, login, make_staff, patient_request, staff_token

ACCOUNTS = "/staff/admin/accounts"
AUDIT = "/staff/admin/audit"
NEW_PASSWORD = "four random words here"


def signed_in(app: Flask, role: str = "admin", **kwargs: Any) -> tuple[FlaskClient, dict[str, Any]]:
    """A staff browser, signed in through the login form."""
    account = make_staff(app, role, **kwargs)
    client = app.test_client()
    login(client, account)
    return client, account


def create(client: FlaskClient, **fields: str) -> Any:
    """Fill in and send the 'Add an account' form."""
    data = {"name": "Rosa Díaz", "email": "rosa@clinic.example", "role": "frontdesk", "password": NEW_PASSWORD,
            **fields}
    return client.post(ACCOUNTS, data={"csrf_token": staff_token(client, ACCOUNTS), **data})


def audit_rows(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def is_active(app: Flask, user_id: int) -> bool:
    with app.app_context():
        user = db.session.get(StaffUser, user_id)
        assert user is not None
        return user.active


def try_login(app: Flask, email: str, password: str) -> Any:
    client = app.test_client()
    return client.post("/staff/login", data={"csrf_token": staff_token(client, "/staff/login"), "email": email,
                                             "password": password})


# --- accounts ---------------------------------------------------------------------------------------

def test_accounts_page_lists_every_account(app: Flask) -> None:
    client, _ = signed_in(app, name="Alex Admin")
    make_staff(app, "clinician", name="Dr Chen", email="chen@clinic.example")
    page = client.get(ACCOUNTS).text
    assert "Alex Admin" in page and "Dr Chen" in page and "chen@clinic.example" in page
    assert "Clinician" in page and "Add an account" in page


def test_admin_creates_an_account_that_can_sign_in(app: Flask) -> None:
    client, admin = signed_in(app)
    response = create(client, email="Rosa@Clinic.example")
    assert response.status_code == 303 and response.headers["Location"] == ACCOUNTS
    page = client.get(ACCOUNTS).text
    assert "Account created for Rosa Díaz (rosa@clinic.example)" in page
    with app.app_context():
        user = db.session.scalars(select(StaffUser).where(StaffUser.email == "rosa@clinic.example")).one()
        assert (user.name, user.role, user.active) == ("Rosa Díaz", "frontdesk", True)
        assert NEW_PASSWORD not in user.password_hash
        new_id = user.id
    [event] = audit_rows(app, "account_create")
    assert (event.staff_id, event.target_type, event.target_id, event.detail) == (
        admin["id"], "staff_user", str(new_id), {"role": "frontdesk"})
    assert try_login(app, "rosa@clinic.example", NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password": "too short"}, "Password must be at least 12 characters"),
        ({"email": "not-an-email"}, "Enter a valid email address"),
        ({"name": "  "}, "Enter the person’s name"),
        ({"password": ""}, "Enter a first password"),
        ({"role": "superuser"}, "Not a valid choice"),
    ],
)
def test_a_refused_account_says_why_and_stores_nothing(app: Flask, fields: dict[str, str], message: str) -> None:
    client, _ = signed_in(app)
    response = create(client, **fields)
    assert response.status_code == 400
    assert message in response.text and "There is a problem" in response.text
    with app.app_context():
        assert db.session.scalars(select(StaffUser).where(StaffUser.email == "rosa@clinic.example")).first() is None
    assert audit_rows(app, "account_create") == []


def test_duplicate_email_is_refused_whatever_its_case(app: Flask) -> None:
    client, _ = signed_in(app)
    make_staff(app, "clinician", email="taken@clinic.example")
    response = create(client, email="TAKEN@clinic.example")
    assert response.status_code == 400
    assert "An account for taken@clinic.example already exists" in response.text
    with app.app_context():
        assert len(db.session.scalars(select(StaffUser).where(StaffUser.email == "taken@clinic.example")).all()) == 1


def test_disabled_account_cannot_sign_in_and_loses_its_session(app: Flask) -> None:
    client, admin = signed_in(app)
    colleague_browser, colleague = signed_in(app, "frontdesk")
    assert colleague_browser.get("/staff/requests").status_code == 200

    response = client.post(f"{ACCOUNTS}/{colleague['id']}/disable", data={"csrf_token": staff_token(client, ACCOUNTS)})
    assert response.status_code == 303
    assert "can no longer sign in" in client.get(ACCOUNTS).text
    assert not is_active(app, colleague["id"])
    [event] = audit_rows(app, "account_disable")
    assert (event.staff_id, event.target_type, event.target_id) == (admin["id"], "staff_user", str(colleague["id"]))

    refused = try_login(app, colleague["email"], PASSWORD)
    assert refused.status_code == 200 and "the account is disabled" in refused.text
    assert colleague_browser.get("/staff/requests").status_code == 302  # back to sign-in

    response = client.post(f"{ACCOUNTS}/{colleague['id']}/enable", data={"csrf_token": staff_token(client, ACCOUNTS)})
    assert response.status_code == 303 and is_active(app, colleague["id"])
    [event] = audit_rows(app, "account_enable")
    assert event.target_id == str(colleague["id"])
    assert try_login(app, colleague["email"], PASSWORD).status_code == 303


def test_an_admin_cannot_disable_their_own_account(app: Flask) -> None:
    client, admin = signed_in(app)
    assert f'/accounts/{admin["id"]}/disable' not in client.get(ACCOUNTS).text  # no button for it
    response = client.post(f"{ACCOUNTS}/{admin['id']}/disable", data={"csrf_token": staff_token(client, ACCOUNTS)})
    assert response.status_code == 303
    assert "You cannot disable your own account" in client.get(ACCOUNTS).text
    assert is_active(app, admin["id"])
    assert audit_rows(app, "account_disable") == []


def test_account_changes_need_a_csrf_token_and_a_real_account(app: Flask) -> None:
    client, _ = signed_in(app)
    other = make_staff(app, "frontdesk")
    assert client.post(f"{ACCOUNTS}/{other['id']}/disable").status_code == 400
    assert is_active(app, other["id"])
    token = staff_token(client, ACCOUNTS)
    assert client.post(f"{ACCOUNTS}/99999/disable", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("role", ["frontdesk", "clinician"])
def test_other_roles_are_refused_every_admin_page(app: Flask, role: str) -> None:
    client, _ = signed_in(app, role)
    other = make_staff(app, "frontdesk")
    token = staff_token(client, "/staff/requests")
    assert client.get(ACCOUNTS).status_code == 403
    assert client.get(AUDIT).status_code == 403
    assert client.post(ACCOUNTS, data={"csrf_token": token, "name": "X", "email": "x@clinic.example",
                                       "role": "admin", "password": NEW_PASSWORD}).status_code == 403
    assert client.post(f"{ACCOUNTS}/{other['id']}/disable", data={"csrf_token": token}).status_code == 403
    assert is_active(app, other["id"])
    with app.app_context():
        assert db.session.scalars(select(StaffUser).where(StaffUser.email == "x@clinic.example")).first() is None


# --- the audit log ----------------------------------------------------------------------------------

def rows_on(page: str) -> list[str]:
    """The action of each row of the audit table, top to bottom."""
    return re.findall(r"<td><code>([a-z_]+)</code></td>", page)


def test_audit_log_shows_logins_and_exports_newest_first(app: Flask) -> None:
    frontdesk, clerk = signed_in(app, "frontdesk", name="Fran Desk")
    frontdesk.get("/staff/requests.csv").close()
    client, _ = signed_in(app)
    page = client.get(AUDIT).text
    assert rows_on(page) == ["login", "export", "login"]
    assert "Fran Desk" in page and clerk["email"] in page and "127.0.0.1" in page

    exports = client.get(f"{AUDIT}?action=export").text
    assert rows_on(exports) == ["export"]
    assert rows_on(client.get(f"{AUDIT}?staff={clerk['id']}").text) == ["export", "login"]
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    assert rows_on(client.get(f"{AUDIT}?from={tomorrow}").text) == []
    today = utcnow().date()
    span = f"from={(today - timedelta(days=1)).isoformat()}&to={(today + timedelta(days=1)).isoformat()}"
    actions = rows_on(client.get(f"{AUDIT}?{span}").text)
    assert [action for action in actions if action != "view_audit"] == ["login", "export", "login"]
    assert actions.count("view_audit") == 4  # each of the four views above, from the next view on


def test_unusable_audit_filters_are_explained_not_a_500(app: Flask) -> None:
    client, _ = signed_in(app)
    response = client.get(f"{AUDIT}?action=drop_table&staff=me&from=yesterday&before=x")
    assert response.status_code == 200
    for message in ("Unknown action filter", "Unknown staff filter", "From must be a date",
                    "That page link is out of date"):
        assert message in response.text
    assert rows_on(response.text) == ["login"]


def test_audit_log_pages_by_100_keeping_the_filters(app: Flask) -> None:
    client, admin = signed_in(app)
    with app.app_context():
        for _ in range(105):
            record(db.session, "view_queue", now=utcnow(), staff_id=admin["id"], ip="10.0.0.1")
        db.session.commit()
    first = client.get(f"{AUDIT}?action=view_queue").text
    assert rows_on(first) == ["view_queue"] * 100
    link = re.search(r'href="([^"]+)" rel="next"', first)
    assert link is not None
    next_url = link.group(1).replace("&amp;", "&")
    assert "action=view_queue" in next_url and "before=" in next_url
    second = client.get(next_url).text
    assert rows_on(second) == ["view_queue"] * 5
    assert 'rel="next"' not in second


def test_audit_rows_about_a_request_link_to_it(app: Flask) -> None:
    reference = patient_request(app)
    client, admin = signed_in(app)
    with app.app_context():
        request_id = db.session.scalars(
            select(ConsultationRequest.id).where(ConsultationRequest.reference == reference)).one()
        record(db.session, "view_request", now=utcnow(), staff_id=admin["id"], ip="10.0.0.1",
               target_type="consultation_request", target_id=request_id)
        db.session.commit()
    page = client.get(AUDIT).text
    assert reference in page
    if "staff.request_detail" in app.view_functions:
        assert f'href="/staff/requests/{reference}"' in page


def test_audit_log_is_read_only(app: Flask) -> None:
    client, _ = signed_in(app)
    token = staff_token(client, ACCOUNTS)
    for method in ("POST", "PUT", "DELETE"):
        assert client.open(AUDIT, method=method, data={"csrf_token": token}).status_code == 405
    assert 'method="post"' not in client.get(AUDIT).text.split("</header>", 1)[1]


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"])
def test_the_database_refuses_to_change_audit_rows(app: Flask, statement: str) -> None:
    signed_in(app)  # one "login" row
    with app.app_context():
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
        assert db.session.scalars(select(AuditEvent.action)).all() == ["login"]


def test_nul_in_a_display_name_or_a_sign_in_email_is_refused_alike_on_every_database(app: Flask) -> None:
    """PostgreSQL refuses NUL in text with a server error; the app refuses it first, on SQLite too."""
    from app.security.accounts import AccountError, create_staff, find_by_email

    with app.app_context():
        with pytest.raises(AccountError, match="control characters"):
            create_staff(db.session, "nul@clinic.example", "Ana\x00García", "admin", "long enough password", utcnow())
        assert find_by_email(db.session, "nul\x00@clinic.example") is None
        db.session.rollback()


def test_admins_are_told_when_new_request_emails_are_off(make_app: Any) -> None:
    off = make_app(MAIL_INTAKE_ADDRESS="")
    admin, _ = signed_in(off)
    page = admin.get("/staff/requests").text
    assert "New-request emails are switched off" in page
    assert "Notices are switched off" in admin.get("/staff/admin/outbox").text
    desk = off.test_client()
    login(desk, make_staff(off, "frontdesk"))
    assert "New-request emails are switched off" not in desk.get("/staff/requests").text  # admins only

    on = make_app(MAIL_INTAKE_ADDRESS="intake@clinic.example")
    admin, _ = signed_in(on)
    assert "switched off" not in admin.get("/staff/requests").text
    assert "No emails yet." in admin.get("/staff/admin/outbox").text
