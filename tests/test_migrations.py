"""The schema comes only from migrations, and `upgrade head` gives exactly the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from app.extensions import db


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


def test_second_migration_backfills_requests_stored_before_it(tmp_path: Path) -> None:
    """A request stored under the first schema gets its queue columns filled in by the upgrade."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from tests.conftest import _make_app

    app = _make_app(tmp_path / "old.sqlite3")
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
                " '+14155550100', 'Pat@Example.com', 'phone', 'any', 'en', 'medicare', NULL, 1,"
                " '2026-11-01 10:00:00')"))
        upgrade()
        with db.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT is_open, category, category_rank, score, last_name_key, email_key, version, updated_at"
                " FROM consultation_request")).one()
        db.engine.dispose()
    assert tuple(row)[:7] == (1, "possible", 2, 75, "mcdonald", "pat@example.com", 1)
    assert row.updated_at is not None


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
