"""Contact details at rest: ciphertext in the database, plaintext through the app, search by blind index,
and key rotation while the data stays readable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import undefer

from app.casework.queue import search_condition
from app.casework.work import add_note
from app.extensions import db
from app.models import AuditEvent, ConsultationRequest, Document, Draft, RequestEvent, StaffUser, utcnow
from app.security.crypto import DecryptionError, KeyConfigError, Keyring, new_key_spec
from app.staff.request_view import related_requests
from config import DEV_INDEX_KEY
from tests.answers import answers_with
from tests.conftest import Databases, database_url, raw_connection
from tests.factories import make_staff, patient_request, seed_request
from tests.journey import CONTACT, csrf_token, see_result

# Sentinels: long and distinctive, so no ciphertext or hash can contain one by chance.
SENTINEL = {
    "first_name": "Zebulonia",
    "last_name": "Quixotezza",
    "phone": "(415) 555-0177",
    "email": "zq.sentinel@example.org",
    "message": "Sentinel message about my back",
}
FORBIDDEN = ("Zebulonia", "Quixotezza", "quixotezza", "4155550177", "555-0177", "zq.sentinel", "1954-04-03",
             "Sentinel message", "JBSWY3DPEHPK3PXP")
NOTE = "Sentinel note: daughter Quixotezza answers, hip surgery in May"
ENCRYPTED_COLUMNS = {
    "consultation_request": ("first_name", "last_name", "date_of_birth", "phone", "email", "message"),
    "draft": ("contact",),
    "staff_user": ("totp_secret",),
    "request_event": ("note",),
    "document": ("filename", "data"),
}


def raw_rows(app: Flask, table: str) -> list[dict[str, Any]]:
    """Rows exactly as stored, read with plain SQL rather than through the app's column types."""
    with raw_connection(database_url(app)) as conn:
        return [dict(row) for row in conn.execute(text(f"SELECT * FROM {table}")).mappings()]  # noqa: S608


def plaintext_leaks(app: Flask) -> list[str]:
    """Every stored value, in any table, that contains one of the sentinels.

    Values are compared as text: PostgreSQL's driver hands JSON columns back as dicts, SQLite's as strings.
    """
    with raw_connection(database_url(app)) as conn:
        tables = inspect(conn).get_table_names()
    return [f"{table}: {value}" for table in tables for row in raw_rows(app, table) for value in row.values()
            if value is not None and any(secret in str(value) for secret in FORBIDDEN)]


def encrypted_values(app: Flask) -> list[str]:
    """Every non-null value of the encrypted columns, as stored."""
    return [row[column] for table, columns in ENCRYPTED_COLUMNS.items() for row in raw_rows(app, table)
            for column in columns if row[column] is not None]


def found_by(app: Flask, query: str) -> list[str]:
    """References the queue search finds for ``query``."""
    with app.app_context():
        return list(db.session.scalars(
            select(ConsultationRequest.reference).where(search_condition(query, "US"))  # type: ignore[arg-type]
            .order_by(ConsultationRequest.id)))


def type_contact(app: Flask, contact: dict[str, str]) -> None:
    """A patient fills in the contact form but has not sent the request yet."""
    patient = app.test_client()
    see_result(patient, answers_with())
    token = csrf_token(patient.get("/request").text)
    response = patient.post("/request", data={"csrf_token": token, **CONTACT, **contact})
    assert response.headers["Location"] == "/request/check"


def test_patient_request_is_stored_encrypted_and_read_back(app: Flask) -> None:
    reference = patient_request(app, **SENTINEL)
    stored = raw_rows(app, "consultation_request")[0]
    for column in ENCRYPTED_COLUMNS["consultation_request"]:
        assert stored[column].startswith("v1.dev1."), column
    assert plaintext_leaks(app) == []
    with app.app_context():
        request = db.session.scalars(select(ConsultationRequest).filter_by(reference=reference)).one()
        assert (request.first_name, request.last_name, request.phone, request.email, request.message) == (
            "Zebulonia", "Quixotezza", "+14155550177", "zq.sentinel@example.org", "Sentinel message about my back")
        assert request.date_of_birth == date(1954, 4, 3)


def test_seeded_request_is_stored_encrypted(app: Flask) -> None:
    seed_request(app, first_name="Zebulonia", last_name="Quixotezza", phone="+14155550177",
                 email="ZQ.Sentinel@example.org", message="Sentinel message about my back")
    assert plaintext_leaks(app) == []
    with app.app_context():
        request = db.session.scalars(select(ConsultationRequest)).one()
        assert (request.email, request.date_of_birth) == ("ZQ.Sentinel@example.org", date(1954, 4, 3))


def test_draft_contact_details_are_encrypted_while_the_patient_types(app: Flask) -> None:
    type_contact(app, SENTINEL)
    (draft,) = raw_rows(app, "draft")
    assert draft["contact"].startswith("v1.dev1.")
    assert plaintext_leaks(app) == []
    with app.app_context():
        contact = db.session.get(Draft, draft["token_hash"]).contact
    assert contact["last_name"] == "Quixotezza" and contact["phone"] == "(415) 555-0177"


@pytest.mark.parametrize("query", ["(415) 555-0177", "415.555.0177", "+1 415 555 0177", "4155550177"])
def test_queue_search_finds_a_phone_in_any_format(app: Flask, query: str) -> None:
    reference = patient_request(app, **SENTINEL)
    seed_request(app, phone="+14155550100")
    assert found_by(app, query) == [reference]


@pytest.mark.parametrize("query", ["Quixotezza", "quixotezza", "QUIXOTEZZA", "  Quixotezza "])
def test_queue_search_finds_an_exact_last_name_in_any_case(app: Flask, query: str) -> None:
    reference = seed_request(app, last_name="Quixotezza")
    seed_request(app, last_name="Quixote")
    assert found_by(app, query) == [reference]


def test_last_name_search_folds_case_and_accents_in_any_script(app: Flask) -> None:
    reference = patient_request(app)  # García
    assert found_by(app, "GARCÍA") == found_by(app, "garcía") == [reference]
    assert found_by(app, "Garcia") == [reference]  # accents do not matter (issue 22): staff type without them


def test_duplicates_are_found_by_phone_or_email(app: Flask) -> None:
    first = patient_request(app, phone="(415) 555-0177", email="Pat@Example.org")
    by_phone = patient_request(app, phone="415 555 0177")
    by_email = seed_request(app, phone="+14155550123", email="pat@example.ORG")
    unrelated = seed_request(app, phone="+14155550124", email="someone@example.org")
    with app.app_context():
        rows = {r.reference: r for r in db.session.scalars(select(ConsultationRequest))}
        assert rows[by_phone].duplicate_of.reference == first
        assert rows[by_email].duplicate_of.reference == first  # same email, told apart from case
        assert rows[unrelated].duplicate_of_id is None
        assert [r.reference for r in related_requests(rows[first])] == [by_phone, by_email]


def test_a_value_copied_into_another_column_does_not_decrypt(app: Flask) -> None:
    reference = seed_request(app, last_name="Quixotezza")
    with raw_connection(database_url(app)) as conn:
        conn.execute(text("UPDATE consultation_request SET first_name = last_name"))
    with app.app_context(), pytest.raises(DecryptionError):
        db.session.scalars(select(ConsultationRequest).filter_by(reference=reference)).one()


def test_encrypted_columns_cannot_be_compared_in_sql(app: Flask) -> None:
    """Equal plaintexts encrypt differently, so an SQL comparison would silently match nothing."""
    with pytest.raises(TypeError, match="blind index"):
        _ = ConsultationRequest.phone == "+14155550177"
    with pytest.raises(TypeError, match="blind index"):
        ConsultationRequest.last_name.in_(["Smith"])
    seed_request(app)
    with app.app_context():
        assert db.session.scalar(select(ConsultationRequest.id).where(ConsultationRequest.email.is_(None)))


# Key rotation ------------------------------------------------------------------------------------------

K1, K2 = new_key_spec("k1"), new_key_spec("k2")


@pytest.fixture
def app_on(databases: Databases, app_factory: Callable[..., Flask]) -> Callable[..., Flask]:
    """Apps on one shared database (a restart with other settings); the first one migrates it."""
    from flask_migrate import upgrade

    shared = databases.empty("shared")
    made: list[Flask] = []

    def build(**overrides: object) -> Flask:
        made.append(app_factory(shared, **overrides))
        if len(made) == 1:
            with made[0].app_context():
                upgrade()
        return made[-1]

    return build


def store_everything(app: Flask) -> str:
    """A sent request, a request seeded directly, a draft being typed, a staff TOTP secret; the reference."""
    reference = patient_request(app, **SENTINEL)
    seed_request(app, last_name="Quixotezza", phone="+14155550178", email="other@example.org", message="Hello")
    type_contact(app, {"first_name": "Zebulonia", "last_name": "Typing"})
    staff = make_staff(app, "admin")
    with app.app_context():
        account = db.session.get(StaffUser, staff["id"])
        account.totp_secret = "JBSWY3DPEHPK3PXP"
        request = db.session.scalars(select(ConsultationRequest).filter_by(reference=reference)).one()
        add_note(request, NOTE, actor=account, now=utcnow())
        db.session.add(Document(request_id=request.id, kind="imaging_report", content_type="application/pdf",
                                filename="Scan of Zebulonia.pdf", size=len(DOCUMENT), data=DOCUMENT,
                                created_at=utcnow()))
        db.session.commit()
    return reference


DOCUMENT = b"%PDF-1.7 the scan report of one patient"


def read_everything(app: Flask, reference: str) -> None:
    """Everything ``store_everything`` wrote reads back, and search still finds it."""
    with app.app_context():
        request = db.session.scalars(select(ConsultationRequest).filter_by(reference=reference)).one()
        assert (request.first_name, request.phone, request.date_of_birth) == (
            "Zebulonia", "+14155550177", date(1954, 4, 3))
        contacts = [draft.contact for draft in db.session.scalars(select(Draft))]
        assert {"first_name": "Zebulonia", "last_name": "Typing"}.items() <= next(c for c in contacts if c).items()
        assert db.session.scalars(select(StaffUser.totp_secret)).one() == "JBSWY3DPEHPK3PXP"
        assert db.session.scalars(select(RequestEvent.note).where(RequestEvent.note.is_not(None))).all() == [NOTE]
        document = db.session.scalars(select(Document).options(undefer(Document.data))).one()
        assert (document.filename, document.data) == ("Scan of Zebulonia.pdf", DOCUMENT)
        db.session.remove()
    assert found_by(app, "415-555-0177") == [reference]
    assert len(found_by(app, "QUIXOTEZZA")) == 2


def test_rotation_moves_every_value_to_the_newest_key(app_on: Callable[..., Flask]) -> None:
    before = app_on(DATA_ENCRYPTION_KEYS=K1)
    reference = store_everything(before)
    values = encrypted_values(before)
    assert len(values) >= 10 and all(value.startswith("v1.k1.") for value in values)

    restarted = app_on(DATA_ENCRYPTION_KEYS=f"{K2},{K1}")
    result = restarted.test_cli_runner().invoke(args=["keys", "rotate", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert f"Re-encrypted {len(values)} value(s)" in result.output and "under key k2" in result.output
    after = encrypted_values(restarted)
    assert len(after) == len(values) and all(value.startswith("v1.k2.") for value in after)
    assert plaintext_leaks(restarted) == []
    with restarted.app_context():
        audit = db.session.scalars(select(AuditEvent).filter_by(action="keys_rotate")).one()
        assert audit.detail["values"] == len(values) and audit.detail["key"] == "k2"

    read_everything(app_on(DATA_ENCRYPTION_KEYS=K2), reference)  # the old key is no longer needed


def test_rotation_keeps_a_change_made_while_it_runs(app_on: Callable[..., Flask]) -> None:
    before = app_on(DATA_ENCRYPTION_KEYS=K1)
    reference = seed_request(before, message="Original message")
    old_instance = Keyring.from_specs(K1, DEV_INDEX_KEY)  # e.g. a worker not yet restarted with the new key
    restarted = app_on(DATA_ENCRYPTION_KEYS=f"{K2},{K1}")

    def colleague_saves_first(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """Just before rotation writes the request, someone else changes its message (another connection)."""
        if statement.startswith("UPDATE consultation_request") and not changed:
            changed.append(True)
            with raw_connection(database_url(restarted)) as other:
                other.execute(text("UPDATE consultation_request SET message = :message, status = 'in_progress'"),
                              {"message": old_instance.encrypt("Changed while rotating",
                                                               "consultation_request.message")})

    changed: list[bool] = []
    with restarted.app_context():
        event.listen(db.engine, "before_cursor_execute", colleague_saves_first)
    try:
        result = restarted.test_cli_runner().invoke(args=["keys", "rotate"])
    finally:
        with restarted.app_context():
            event.remove(db.engine, "before_cursor_execute", colleague_saves_first)
    assert result.exit_code == 0, result.output
    assert changed
    assert all(value.startswith("v1.k2.") for value in encrypted_values(restarted))
    with restarted.app_context():
        request = db.session.scalars(select(ConsultationRequest).filter_by(reference=reference)).one()
        assert (request.message, request.status, request.version) == ("Changed while rotating", "in_progress", 1)


def test_without_the_key_values_cannot_be_read(app_on: Callable[..., Flask]) -> None:
    seed_request(app_on(DATA_ENCRYPTION_KEYS=K1))
    other = app_on(DATA_ENCRYPTION_KEYS=K2)
    with other.app_context(), pytest.raises(KeyConfigError):
        db.session.scalars(select(ConsultationRequest)).one()


def test_a_value_from_any_encrypted_column_fails_in_every_other(app: Flask) -> None:
    """Each ciphertext is bound to its column: copied into any other encrypted column, it does not decrypt."""
    from app.models.base import EncryptedText
    from app.security.crypto import keyring

    purposes = sorted({column.type.purpose for table in db.metadata.tables.values() for column in table.columns
                       if isinstance(column.type, EncryptedText)})
    assert {"consultation_request.first_name", "request_event.note", "draft.contact",
            "staff_user.totp_secret"} <= set(purposes)
    with app.app_context():
        ring = keyring()
        for own in purposes:
            token = ring.encrypt("Quixotezza 1954-04-03", own)
            assert ring.decrypt(token, own) == "Quixotezza 1954-04-03"
            for other in purposes:
                if other != own:
                    with pytest.raises(DecryptionError):
                        ring.decrypt(token, other)
