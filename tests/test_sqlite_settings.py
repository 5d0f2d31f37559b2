"""SQLite for several workers: WAL, a busy timeout, FULL sync for every write, foreign keys, BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3
import threading
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.intake.contact import ContactDetails
from app.models import ConsultationRequest, Screening, utcnow
from tests.answers import BASE_ANSWERS
from tests.conftest import requires_sqlite
from tests.factories import new_screening, seed_request
from tests.journey import answer_all, see_result, send_request

# app/platform/database.py configures SQLite connections only; PostgreSQL has its own locking.
pytestmark = requires_sqlite

THREADS = 8
SUBMISSIONS_PER_THREAD = 25


def test_pragmas_are_in_force_on_an_app_connection(app: Flask) -> None:
    with app.app_context():
        values = {name: db.session.execute(text(f"PRAGMA {name}")).scalar_one()
                  for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}
    assert values == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 15000}


def test_busy_timeout_comes_from_the_configuration(make_app: object) -> None:
    app = make_app(SQLITE_BUSY_TIMEOUT=2.5)  # type: ignore[operator]
    with app.app_context():
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar_one() == 2500


def _other_writer_is_locked_out(app: Flask) -> bool:
    """Whether another connection, not willing to wait, is refused the write lock right now."""
    other = db.engine.raw_connection()  # the driver connection, outside SQLAlchemy's events
    try:
        other.cursor().execute("PRAGMA busy_timeout = 0")  # fail at once rather than queue
        other.cursor().execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        assert "database is locked" in str(error)
        return True
    finally:
        other.rollback()
        other.close()
    return False


def test_a_transaction_takes_the_write_lock_at_its_first_write_not_its_reads(app: Flask) -> None:
    with app.app_context():
        db.session.execute(text("SELECT count(*) FROM consultation_request"))
        assert not _other_writer_is_locked_out(app)  # reading pages never queues writers
        db.session.execute(text("INSERT INTO draft (token_hash, answers, contact, created_at, updated_at)"
                                " VALUES ('lock-test', '{}', '{}', '2026-11-01', '2026-11-01')"))
        assert _other_writer_is_locked_out(app)  # from the first write to the commit: one writer
        db.session.rollback()
        assert not _other_writer_is_locked_out(app)
        assert db.session.execute(text("SELECT count(*) FROM draft WHERE token_hash = 'lock-test'")).scalar() == 0


def test_concurrent_writers_all_succeed(app: Flask) -> None:
    """Eight threads, each with its own connection, store 25 requests each: none is refused or lost."""
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def submit_many(number: int) -> None:
        try:
            start.wait()
            for i in range(SUBMISSIONS_PER_THREAD):
                seed_request(app, phone=f"+1415555{number:02d}{i:02d}")
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=submit_many, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(ConsultationRequest))
        references = db.session.scalar(select(func.count(func.distinct(ConsultationRequest.reference))))
    assert stored == references == THREADS * SUBMISSIONS_PER_THREAD


def test_a_foreign_key_violation_is_refused(app: Flask) -> None:
    with app.app_context():
        with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
            db.session.execute(text(
                "INSERT INTO request_event (request_id, kind, data, created_at)"
                " VALUES (999999, 'submitted', '{}', '2026-11-01 10:00:00')"))
        db.session.rollback()


def test_a_reference_collision_keeps_the_transaction(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the driver settings a collision inserts nothing, draws a new reference, and the transaction goes on."""
    from app.intake import workflow

    taken = seed_request(app)
    references = iter([taken, "TEST-NEWW"])
    monkeypatch.setattr(workflow, "new_reference", lambda: next(references))
    with app.app_context():
        screening = new_screening()
        db.session.add(screening)
        db.session.flush()
        details = ContactDetails(first_name="Pat", last_name="Lee", date_of_birth=date(1954, 4, 3),
                                 phone="+14155550177", email=None, preferred_contact="phone", best_time="any",
                                 preferred_language="en", insurance="medicare", message=None,
                                 consent_contact=True)
        request, new = workflow.submit_request(db.session, screening, details, utcnow())
        db.session.commit()
        assert (request.reference, new) == ("TEST-NEWW", True)
        assert db.session.get(Screening, screening.id) is not None  # the outer transaction survived


def test_migrations_rebuild_tables_that_other_rows_refer_to(tmp_path: Path) -> None:
    """Batch migrations copy and drop tables: foreign keys are off while Alembic runs, back on after."""
    from flask_migrate import downgrade, upgrade

    from tests.conftest import _make_app

    app = _make_app(tmp_path / "populated.sqlite3")
    with app.app_context():
        upgrade(revision="0003_staff_security")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO screening (id, answers, assessment, category, score, cook_score, rule_version, created_at)"
                " VALUES (1, '{}', '{}', 'possible', 75, 5, '2026.1', '2026-11-01 10:00:00')"))
            conn.execute(text(
                "INSERT INTO consultation_request (id, reference, screening_id, status, first_name, last_name,"
                " date_of_birth, phone, email, preferred_contact, best_time, preferred_language, insurance, message,"
                " consent_contact, created_at, is_open, category, category_rank, score, last_name_key, version,"
                " updated_at) VALUES (1, 'AAAA-BBBB', 1, 'new', 'Pat', 'Lee', '1950-01-01', '+14155550100', NULL,"
                " 'phone', 'any', 'en', 'medicare', NULL, 1, '2026-11-01 10:00:00', 1, 'possible', 2, 75, 'lee',"
                " 1, '2026-11-01 10:00:00')"))
            conn.execute(text("INSERT INTO request_event (request_id, kind, data, created_at)"
                              " VALUES (1, 'submitted', '{}', '2026-11-01 10:00:00')"))
        upgrade()  # 0004 rebuilds consultation_request, which the timeline row refers to
        downgrade(revision="0003_staff_security")
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM request_event")).scalar_one() == 1
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1  # the pooled connection again
        db.engine.dispose()


def test_a_savepoint_first_in_a_transaction_does_not_commit_it(app: Flask) -> None:
    """Without a real BEGIN before it, the SAVEPOINT would start the transaction and its RELEASE commit it."""
    with app.app_context():
        with db.session.begin_nested():
            db.session.execute(text("INSERT INTO draft (token_hash, answers, contact, created_at, updated_at)"
                                    " VALUES ('savepoint-test', '{}', '{}', '2026-11-01', '2026-11-01')"))
        db.session.rollback()  # the outer transaction: must take the released savepoint's work with it
        stored = db.session.execute(text("SELECT count(*) FROM draft WHERE token_hash = 'savepoint-test'"))
        assert stored.scalar_one() == 0


def _synchronous_levels(app: Flask) -> list[str]:
    """Start tracing the PRAGMA synchronous statements of the app's (new) connections; the list fills up."""
    levels: list[str] = []

    def trace(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_trace_callback(
            lambda statement: levels.append(statement.rsplit(" ", 1)[-1]) if "synchronous" in statement else None
        )

    with app.app_context():
        event.listen(db.engine, "connect", trace)
        db.engine.dispose()  # every connection from now on is traced
    return levels


def test_every_write_commits_at_full_drafts_included(app: Flask, client: FlaskClient) -> None:
    levels = _synchronous_levels(app)
    answer_all(client, {"red_flags": ["none"]})  # a page of answers: a draft save
    see_result(client, BASE_ANSWERS)
    send_request(client)
    assert {level for level in levels if level != "synchronous"} <= {"FULL"}  # nothing ever asks for less
    with app.app_context():
        assert db.session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL, on the pooled connection
