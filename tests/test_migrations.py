"""The schema comes only from migrations, and `upgrade head` gives exactly the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from app.extensions import db
from tests.conftest import Databases


def test_upgrade_head_matches_models(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_downgrade_then_upgrade_round_trips(app: Flask) -> None:
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    with app.app_context():
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        upgrade()
        assert {"draft", "screening", "consultation_request"} <= set(inspect(db.engine).get_table_names())


def _store_first_schema_rows(app: Flask) -> None:
    """Migrate to the first revision and store a request and a draft the way its code did: in plaintext."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    with app.app_context():
        upgrade(revision="33d3c3388b7f")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO screening (id, answers, assessment, category, score, cook_score, rule_version, created_at)"
                " VALUES (1, '{}', '{}', 'possible', 75, 5, '2026.1', '2026-11-01 10:00:00')"))
            conn.execute(text(
                "INSERT INTO consultation_request (id, reference, screening_id, status, first_name, last_name,"
                " date_of_birth, phone, email, preferred_contact, best_time, preferred_language, insurance, message,"
                " consent_contact, created_at) VALUES (1, 'AAAA-BBBB', 1, 'new', 'Pat', 'McDonald', '1950-01-01',"
                " '+14155550100', 'Pat@Example.com', 'phone', 'any', 'en', 'medicare', 'Sentinel message Zq',"
                " true, '2026-11-01 10:00:00')"))
            conn.execute(text(
                "INSERT INTO draft (token_hash, answers, contact, created_at, updated_at) VALUES ('d1', '{}',"
                " '{\"first_name\": \"Draftina\", \"phone\": \"(415) 555-0111\"}',"
                " '2026-11-01 10:00:00', '2026-11-01 10:00:00')"))


def test_second_migration_backfills_requests_stored_before_it(databases: Databases) -> None:
    """A request stored under the first schema gets its queue columns filled in by the upgrade."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from tests.conftest import _make_app

    app = _make_app(databases.empty("old"))
    _store_first_schema_rows(app)
    with app.app_context():
        upgrade(revision="cd1be294cb18")  # the plaintext search columns are replaced at 0004
        with db.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT is_open, category, category_rank, score, last_name_key, email_key, version, updated_at"
                " FROM consultation_request")).one()
        db.engine.dispose()
    assert tuple(row)[:7] == (1, "possible", 2, 75, "mcdonald", "pat@example.com", 1)
    assert row.updated_at is not None


# Long enough that no ciphertext or hash contains one by chance ("Pat" is checked by equality).
PLAINTEXTS = ("McDonald", "mcdonald", "Pat@Example.com", "pat@example.com", "4155550100", "1950-01-01",
              "Sentinel message", "Draftina", "555-0111", "JBSWY3DPEHPK3PXP")


def _raw_values(app: Flask) -> list[str]:
    """Every stored value of the tables holding contact details or secrets, as text."""
    from sqlalchemy import text

    values: list[str] = []
    with app.app_context(), db.engine.connect() as conn:
        for table in ("consultation_request", "draft", "staff_user"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):  # noqa: S608 - fixed table names
                values.extend(str(value) for value in row if value is not None)
    return values


def test_encryption_migration_encrypts_rows_stored_before_it(databases: Databases) -> None:
    """Plaintext rows from earlier revisions become ciphertext, still read back and found by search."""
    from datetime import date

    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from app.casework.queue import search_condition
    from app.models import ConsultationRequest, Draft, StaffUser
    from app.security.search_index import email_index
    from tests.conftest import _make_app

    app = _make_app(databases.empty("old"))
    _store_first_schema_rows(app)
    with app.app_context():
        upgrade(revision="0003_staff_security")
        with db.engine.begin() as conn:  # a secret stored in plaintext, should any release have done so
            conn.execute(text(
                "INSERT INTO staff_user (id, email, name, role, password_hash, active, created_at, updated_at,"
                " totp_secret, failed_logins) VALUES (1, 'a@clinic.example', 'A', 'admin', 'x', true,"
                " '2026-11-01 10:00:00', '2026-11-01 10:00:00', 'JBSWY3DPEHPK3PXP', 0)"))
        upgrade()
        with db.engine.connect() as conn:
            stored = conn.execute(text(
                "SELECT first_name, last_name, date_of_birth, phone, email, message FROM consultation_request"
            )).one()
    assert all(value.startswith("v1.dev1.") for value in stored)
    raw = _raw_values(app)
    assert not [value for value in raw if value == "Pat" or any(secret in value for secret in PLAINTEXTS)]

    with app.app_context():
        request = db.session.scalars(select(ConsultationRequest)).one()
        assert (request.first_name, request.last_name, request.phone, request.email, request.message) == (
            "Pat", "McDonald", "+14155550100", "Pat@Example.com", "Sentinel message Zq")
        assert request.date_of_birth == date(1950, 1, 1)
        assert request.email_index == email_index("pat@example.com")
        for query in ("(415) 555-0100", "mcdonald", "MCDONALD"):
            found = db.session.scalars(select(ConsultationRequest.reference).where(
                search_condition(query, "US"))).all()  # type: ignore[arg-type]
            assert found == ["AAAA-BBBB"], query
        assert db.session.get(Draft, "d1").contact == {"first_name": "Draftina", "phone": "(415) 555-0111"}
        assert db.session.get(StaffUser, 1).totp_secret == "JBSWY3DPEHPK3PXP"
        db.session.remove()
        db.engine.dispose()


def test_encryption_migration_downgrade_decrypts_back(databases: Databases) -> None:
    """Downgrading restores the plaintext columns and values exactly; upgrading again re-encrypts."""
    import json

    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from tests.conftest import _make_app

    app = _make_app(databases.empty("old"))
    _store_first_schema_rows(app)
    with app.app_context():
        upgrade()
        downgrade(revision="0003_staff_security")
        with db.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT first_name, last_name, last_name_key, date_of_birth, phone, email, email_key, message"
                " FROM consultation_request")).one()
            contact = conn.execute(text("SELECT contact FROM draft")).scalar_one()
        upgrade()
        db.engine.dispose()
    # str(): SQLite hands back the DATE as text, PostgreSQL as a date; likewise JSON as text or as a dict.
    assert tuple(str(value) for value in row) == (
        "Pat", "McDonald", "mcdonald", "1950-01-01", "+14155550100", "Pat@Example.com", "pat@example.com",
        "Sentinel message Zq")
    contact = json.loads(contact) if isinstance(contact, str) else contact
    assert contact == {"first_name": "Draftina", "phone": "(415) 555-0111"}
    assert not [value for value in _raw_values(app) if "McDonald" in value or "Draftina" in value]
    with app.app_context():
        db.engine.dispose()  # _raw_values connected again after the dispose above


def test_audit_log_is_append_only_in_the_database(app: Flask) -> None:
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO audit_event (at, action, detail) VALUES ('2026-11-01 10:00:00', 'login', '{}')"))
        for statement in ("UPDATE audit_event SET action = 'logout'", "DELETE FROM audit_event"):
            with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as conn:
                conn.execute(text(statement))
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT action FROM audit_event")).scalar_one() == "login"


def test_notes_migration_encrypts_existing_notes_and_downgrade_decrypts(databases: Databases) -> None:
    """Timeline notes stored in plaintext before 0011 become ciphertext, read back by the model; and back."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import select, text

    from app.models import RequestEvent
    from tests.conftest import _make_app

    app = _make_app(databases.empty("notes"))
    _store_first_schema_rows(app)
    note = "Daughter says call after 3; hip surgery in May"
    with app.app_context():
        upgrade(revision="0010_contact_more")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO request_event (id, request_id, kind, data, note, created_at) VALUES"
                " (1, 1, 'note', '{}', :note, '2026-11-02 10:00:00'), (2, 1, 'status', '{}', NULL,"
                " '2026-11-02 10:01:00')"), {"note": note})
        upgrade()
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT note FROM request_event ORDER BY id")).scalars().all()
        assert stored[0].startswith("v1.") and note not in stored[0] and stored[1] is None
        assert db.session.scalars(select(RequestEvent.note).order_by(RequestEvent.id)).all() == [note, None]
        db.session.remove()
        downgrade(revision="0010_contact_more")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT note FROM request_event ORDER BY id")).scalars().all() == [note, None]
        upgrade()
        db.engine.dispose()


def test_call_list_migration_counts_attempts_and_indexes_each_surname_word(databases: Databases) -> None:
    """0012: contact attempts already on a timeline are counted on the request; the name is searchable by word."""
    import json

    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from app.casework.queue import search_condition
    from app.models import ConsultationRequest
    from tests.conftest import _make_app

    app = _make_app(databases.empty("old"))
    _store_first_schema_rows(app)
    with app.app_context():
        upgrade(revision="0011_encrypt_notes")
        with db.engine.begin() as conn:
            for event_id, outcome, at in ((1, "no_answer", "2026-11-02 10:00:00"),
                                          (2, "voicemail", "2026-11-03 11:00:00")):
                conn.execute(text(
                    "INSERT INTO request_event (id, request_id, kind, data, created_at)"
                    " VALUES (:id, 1, 'contact_attempt', :data, :at)"),
                    {"id": event_id, "data": json.dumps({"method": "phone", "outcome": outcome}), "at": at})
        upgrade()
        request = db.session.scalars(select(ConsultationRequest)).one()
        assert (request.contact_attempts, request.last_contact_outcome) == (2, "voicemail")
        assert request.last_contact_at is not None and request.last_contact_at.day == 3
        for query in ("mcdonald", "McDonald", "MCDONALD"):
            found = db.session.scalars(select(ConsultationRequest.reference).where(
                search_condition(query, "US"))).all()  # type: ignore[arg-type]
            assert found == ["AAAA-BBBB"], query
        db.session.remove()
        db.engine.dispose()


def test_messages_migration_encrypts_the_outbox_keeps_the_status_triggers_and_downgrades(
        databases: Databases) -> None:
    """Outbox rows stored in clear before 0014 become ciphertext read back by the model; the status counts the
    triggers keep still follow a change afterwards (no table rebuild dropped them); and back down."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import select, text

    from app.models import OutboxMessage, RequestStatusCount
    from tests.conftest import _make_app

    app = _make_app(databases.empty("messages"))
    _store_first_schema_rows(app)
    with app.app_context():
        upgrade(revision="0013_audit_rights")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO outbox_message (id, recipient, subject, body, created_at, attempts, next_attempt_at)"
                " VALUES (1, 'intake@clinic.example', 'New request', 'Reference K7QM', '2026-11-02 10:00:00', 0,"
                " '2026-11-02 10:00:00')"))
        upgrade()
        with db.engine.connect() as conn:
            recipient, body = conn.execute(text("SELECT recipient, body FROM outbox_message")).one()
        assert recipient.startswith("v1.") and body.startswith("v1.") and "intake" not in recipient
        message = db.session.get_one(OutboxMessage, 1)
        assert (message.recipient, message.body, message.channel, message.kind) == (
            "intake@clinic.example", "Reference K7QM", "email", "staff_notice")
        before = {row.status: row.requests for row in db.session.scalars(select(RequestStatusCount))}
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE consultation_request SET status = 'closed' WHERE id = 1"))
        db.session.remove()
        after = {row.status: row.requests for row in db.session.scalars(select(RequestStatusCount))}
        assert after["closed"] == before.get("closed", 0) + 1
        db.session.remove()
        downgrade(revision="0013_audit_rights")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT recipient, body FROM outbox_message")).one() == (
                "intake@clinic.example", "Reference K7QM")
        upgrade()
        db.engine.dispose()


def test_consultation_times_migration_counts_documents_and_keeps_the_status_triggers(databases: Databases) -> None:
    """0016: documents stored before it are counted on their request; the status counts still follow a change
    (no rebuild of consultation_request); and back down to 0015."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import select, text

    from app.models import ConsultationRequest, RequestStatusCount
    from tests.conftest import _make_app

    app = _make_app(databases.empty("times"))
    _store_first_schema_rows(app)
    with app.app_context():
        upgrade(revision="0015_documents")
        with db.engine.begin() as conn:
            for _ in range(2):
                conn.execute(text(
                    "INSERT INTO document (request_id, kind, content_type, filename, size, data, created_at)"
                    " VALUES (1, 'referral', 'application/pdf', 'x', 1, 'x', '2026-11-02 10:00:00')"))
        upgrade()
        request = db.session.scalars(select(ConsultationRequest)).one()
        assert request.document_count == 2
        before = {row.status: row.requests for row in db.session.scalars(select(RequestStatusCount))}
        request.status = "closed" if request.status != "closed" else "in_progress"
        db.session.commit()
        after = {row.status: row.requests for row in db.session.scalars(select(RequestStatusCount))}
        assert after != before and sum(after.values()) == sum(before.values())
        db.session.remove()
        downgrade(revision="0015_documents")
        with db.engine.connect() as conn:
            columns = {row[1] for row in conn.execute(text("PRAGMA table_info(consultation_request)"))} \
                if db.engine.dialect.name == "sqlite" else set(conn.execute(text(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'consultation_request'"
                )).scalars())
        assert "document_count" not in columns and "status" in columns
        db.session.remove()
        db.engine.dispose()
