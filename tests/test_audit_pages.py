"""Each page that shows patient data, or who looked at it, leaves one audit row naming the action, the actor
and the target; the audit writer refuses an action it does not know."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.casework.audit import record
from app.extensions import db
from app.models import AuditEvent, ConsultationRequest
from tests.factories import login, make_staff, seed_request


def last_event(app: Flask) -> AuditEvent:
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
        db.session.expunge(event)
        return event


def request_id(app: Flask, reference: str) -> str:
    with app.app_context():
        return str(db.session.scalar(select(ConsultationRequest.id).where(ConsultationRequest.reference == reference)))


@pytest.fixture
def admin(app: Flask, staff_client: FlaskClient) -> tuple[FlaskClient, dict[str, object]]:
    account = make_staff(app, "admin", name="Ada Admin")
    login(staff_client, account)
    return staff_client, account


def test_the_printed_summary_is_audited_as_a_view_of_that_request(
    app: Flask, admin: tuple[FlaskClient, dict[str, object]]
) -> None:
    client, account = admin
    reference = seed_request(app)
    assert client.get(f"/staff/requests/{reference}/print").status_code == 200
    event = last_event(app)
    assert (event.action, event.staff_id, event.target_type, event.target_id) == (
        "view_request", account["id"], "consultation_request", request_id(app, reference))
    assert event.detail == {"view": "print"}


def test_the_audit_log_records_who_read_it_and_with_which_filters(
    app: Flask, admin: tuple[FlaskClient, dict[str, object]]
) -> None:
    client, account = admin
    assert client.get("/staff/admin/audit?action=export&from=2026-01-01&junk=1").status_code == 200
    event = last_event(app)
    assert (event.action, event.staff_id, event.target_type) == ("view_audit", account["id"], None)
    assert event.detail == {"action": "export", "from": "2026-01-01"}


def test_the_outbox_page_records_who_read_it(app: Flask, admin: tuple[FlaskClient, dict[str, object]]) -> None:
    client, account = admin
    assert client.get("/staff/admin/outbox").status_code == 200
    event = last_event(app)
    assert (event.action, event.staff_id, event.target_type) == ("view_outbox", account["id"], None)


def test_the_call_list_records_a_view_without_the_search_text(
    app: Flask, admin: tuple[FlaskClient, dict[str, object]]
) -> None:
    client, account = admin
    seed_request(app, last_name="Quixotezza")
    assert client.get("/staff/requests?view=due").status_code == 200
    event = last_event(app)
    assert (event.action, event.staff_id) == ("view_queue", account["id"])
    assert event.detail == {"view": "due", "searched": False}


def test_the_audit_writer_refuses_an_action_it_does_not_know(app: Flask) -> None:
    with app.app_context(), pytest.raises(ValueError, match="unknown audit action"):
        record(db.session, "view_everything", now=datetime.now(UTC), staff_id=None, ip=None)
