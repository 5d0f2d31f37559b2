"""The send POST (/request/check) reads its draft in one query on the driver and writes with compiled statements.

What that read does not settle (no draft, no result, an expired draft, details that no longer pass) must go the
session's way and answer exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update

from app.extensions import db
from app.models import ConsultationRequest, Draft, OutboxMessage, Screening, utcnow
from tests.answers import answers_with
from tests.journey import CONTACT, csrf_token, see_result


def ready_to_send(client: FlaskClient) -> str:
    """A patient with a result and checked contact details on the check page; the send's CSRF token."""
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    assert client.post("/request", data={"csrf_token": token, **CONTACT}).headers["Location"] == "/request/check"
    return csrf_token(client.get("/request/check").text)


def stored(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(ConsultationRequest)) or 0)


@contextmanager
def traced(app: Flask) -> Iterator[tuple[list[str], list[str]]]:
    """(SQL sent through SQLAlchemy, ORM objects loaded) while the block runs."""
    statements: list[str] = []
    loaded: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    def on_load(target: Any, _context: Any) -> None:
        loaded.append(type(target).__name__)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    for model in (Draft, Screening, ConsultationRequest):
        event.listen(model, "load", on_load)
    try:
        yield statements, loaded
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        for model in (Draft, Screening, ConsultationRequest):
            event.remove(model, "load", on_load)


def kinds(statements: list[str]) -> list[str]:
    """Each statement as its verb and table: ``INSERT consultation_request``, ``SELECT consultation_request``..."""
    out = []
    for sql in statements:
        verb = sql.split()[0].upper()
        table = re.search(r"(?:INTO|FROM|UPDATE)\s+(\w+)", sql, re.IGNORECASE)
        out.append(f"{verb} {table.group(1) if table else ''}".strip())
    return out


def test_a_send_loads_no_orm_object_and_writes_four_statements(app: Flask, client: FlaskClient) -> None:
    token = ready_to_send(client)
    with traced(app) as (statements, loaded):
        response = client.post("/request/check", data={"csrf_token": token})
    assert response.headers["Location"] == "/request/sent"
    assert loaded == []
    # The draft's read runs on the driver's cursor (no SQLAlchemy event); then the duplicate check and the writes.
    assert kinds(statements) == ["SELECT consultation_request", "INSERT consultation_request",
                                 "INSERT request_event", "UPDATE draft"]
    assert stored(app) == 1
    with app.app_context():
        assert db.session.scalars(select(Draft.contact)).one() == {}


def test_with_an_intake_address_the_notice_is_written_in_a_savepoint(make_app: Any) -> None:
    app = make_app(MAIL_INTAKE_ADDRESS="intake@clinic.example", MAIL_DELIVER_IN_BACKGROUND=False)
    client = app.test_client()
    token = ready_to_send(client)
    with traced(app) as (statements, loaded):
        client.post("/request/check", data={"csrf_token": token})
    assert loaded == []
    assert kinds(statements)[-3:] == ["SAVEPOINT", "INSERT outbox_message", "RELEASE"]
    with app.app_context():
        reference = db.session.scalars(select(ConsultationRequest.reference)).one()
        assert reference in db.session.scalars(select(OutboxMessage.subject)).one()


def test_an_expired_draft_is_removed_and_the_patient_told(app: Flask, client: FlaskClient) -> None:
    token = ready_to_send(client)
    with app.app_context():
        db.session.execute(update(Draft).values(updated_at=utcnow() - timedelta(hours=3)))
        db.session.commit()
    response = client.post("/request/check", data={"csrf_token": token})
    assert response.headers["Location"] == "/session-ended"
    assert stored(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0


def test_a_send_without_a_result_goes_to_check_the_answers(app: Flask, client: FlaskClient) -> None:
    token = ready_to_send(client)
    with app.app_context():
        db.session.execute(update(Draft).values(screening_id=None))  # an answer changed since the result
        db.session.commit()
    assert client.post("/request/check", data={"csrf_token": token}).headers["Location"] == "/check-your-answers"
    assert stored(app) == 0


def test_details_that_no_longer_pass_go_back_to_the_form(app: Flask, client: FlaskClient) -> None:
    token = ready_to_send(client)
    with app.app_context():
        draft = db.session.scalars(select(Draft)).one()
        draft.contact = {**draft.contact, "phone": "555"}
        db.session.commit()
    assert client.post("/request/check", data={"csrf_token": token}).headers["Location"] == "/request"
    assert stored(app) == 0


def test_a_send_after_the_request_was_stored_shows_it_again(app: Flask, client: FlaskClient) -> None:
    token = ready_to_send(client)
    client.post("/request/check", data={"csrf_token": token})
    with traced(app) as (statements, _):
        again = client.post("/request/check", data={"csrf_token": token})
    assert again.headers["Location"] == "/request/sent"
    assert [kind for kind in kinds(statements) if not kind.startswith("SELECT")] == []  # nothing written
    assert stored(app) == 1


def test_a_send_without_a_draft_goes_to_check_the_answers(app: Flask, client: FlaskClient) -> None:
    token = csrf_token(client.get("/questions/safety").text)  # a question page makes no draft until answered
    response = client.post("/request/check", data={"csrf_token": token})
    assert response.headers["Location"] == "/check-your-answers"
    assert stored(app) == 0
