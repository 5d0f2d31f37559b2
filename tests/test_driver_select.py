"""``DriverSelect`` gives what SQLAlchemy gives for the same select, and ``find_answers`` stays correct with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import bindparam, select

from app.drafts import TOUCH_EVERY, find_answers, hash_token, save_answers, start_draft
from app.driver_select import DriverSelect
from app.extensions import db
from app.models import Draft, utcnow
from tests.conftest import requires_postgres

IDLE = timedelta(hours=2)
ANSWERS = {"red_flags": ["none"], "leg_symptoms": "yes", "walking_minutes": 5, "label": "Ñandú \"quoted\" 'x'"}
STATEMENT = select(Draft.answers, Draft.updated_at, Draft.created_at, Draft.screening_id).where(
    Draft.token_hash == bindparam("key")
)


def _stored_draft(app: Flask, when: datetime) -> str:
    with app.app_context():
        token, draft = start_draft(db.session, when)
        save_answers(draft, ANSWERS, when)
        db.session.commit()
    return token


def test_rows_match_sqlalchemy_values_and_types(app: Flask) -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    token = _stored_draft(app, when)
    driver = DriverSelect(STATEMENT)
    with app.app_context():
        expected = tuple(db.session.execute(STATEMENT, {"key": hash_token(token)}).one())
        db.session.commit()
        got = driver.first(db.engine, key=hash_token(token))
        again = driver.first(db.engine, key=hash_token(token))  # the compiled form, kept
    assert got == expected == again
    assert got is not None
    answers, updated_at, created_at, screening_id = got
    assert answers == ANSWERS and isinstance(answers, dict)
    assert updated_at == when == created_at and updated_at.tzinfo is not None
    assert screening_id is None


def test_no_row_is_none(app: Flask) -> None:
    _stored_draft(app, utcnow())
    with app.app_context():
        assert DriverSelect(STATEMENT).first(db.engine, key=hash_token("not a token")) is None


def test_a_parameter_that_looks_like_sql_is_only_a_value(app: Flask) -> None:
    token = _stored_draft(app, utcnow())
    with app.app_context():
        driver = DriverSelect(STATEMENT)
        assert driver.first(db.engine, key="x' OR '1'='1") is None
        assert driver.first(db.engine, key=hash_token(token)) is not None


def test_the_connection_goes_back_to_the_pool(app: Flask) -> None:
    token = _stored_draft(app, utcnow())
    with app.app_context():
        pool = db.engine.pool
        checked_out = getattr(pool, "checkedout", None)
        before = checked_out() if checked_out else None
        for _ in range(50):
            assert DriverSelect(STATEMENT).first(db.engine, key=hash_token(token)) is not None
        if checked_out:
            assert checked_out() == before


def test_find_answers_sees_the_sessions_own_unwritten_draft(app: Flask) -> None:
    """Inside a transaction the session's connection is used: a driver connection would not see the row."""
    with app.app_context():
        now = utcnow()
        token, draft = start_draft(db.session, now)
        save_answers(draft, {"red_flags": ["none"]}, now)
        db.session.flush()
        assert find_answers(db.session, token, now, IDLE) == {"red_flags": ["none"]}
        db.session.rollback()
        assert find_answers(db.session, token, now, IDLE) is None


def test_find_answers_reads_a_committed_draft_on_the_driver(app: Flask) -> None:
    token = _stored_draft(app, utcnow())
    with app.app_context():
        assert not db.session().in_transaction()
        assert find_answers(db.session, token, utcnow(), IDLE) == ANSWERS
        # Nothing was written (recent activity): no transaction was begun on the session.
        assert not db.session().in_transaction()


def test_a_page_view_needs_no_orm_session_unless_it_writes(app: Flask) -> None:
    """With the engine given, a recent draft is read without making a session; a due touch makes and uses one."""
    token = _stored_draft(app, utcnow())
    with app.app_context():
        db.session.remove()
        assert find_answers(db.session, token, utcnow(), IDLE, engine=db.engine) == ANSWERS
        assert not db.session.registry.has()
        later = utcnow() + TOUCH_EVERY + timedelta(seconds=1)
        assert find_answers(db.session, token, later, IDLE, engine=db.engine) == ANSWERS
        assert db.session.registry.has() and db.session().in_transaction()
        db.session.commit()
        stored = db.session.scalar(select(Draft.updated_at).where(Draft.token_hash == hash_token(token)))
        assert stored == later


@requires_postgres  # SQLite's connections here never begin a transaction by themselves (app/database.py)
def test_on_postgresql_the_read_begins_no_transaction(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """No BEGIN before the select and no ROLLBACK after: the connection goes back idle and out of autocommit."""
    from psycopg.pq import TransactionStatus

    token = _stored_draft(app, utcnow())
    seen: list[tuple[TransactionStatus, bool]] = []
    with app.app_context():
        engine = db.engine
        lend = engine.raw_connection

        def watched() -> Any:
            connection = lend()
            close = connection.close

            def close_and_record() -> None:
                driver = connection.driver_connection
                seen.append((driver.pgconn.transaction_status, driver.autocommit))
                close()

            monkeypatch.setattr(connection, "close", close_and_record)
            return connection

        monkeypatch.setattr(engine, "raw_connection", watched)
        assert DriverSelect(STATEMENT).first(engine, key=hash_token(token)) is not None
    assert seen == [(TransactionStatus.IDLE, False)]
