"""A question page's POST saves with one UPDATE (``save_page_answers``), as ``save_answers`` on a Draft did."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, event, func, select

from app.database import draft_write_durability
from app.drafts import answers_for_saving, hash_token, save_answers, save_page_answers, start_draft
from app.extensions import db
from app.models import Draft, Screening, utcnow
from app.public import drafts as public_drafts
from app.screening.questions import PAGES
from app.workflow import complete_screening
from tests.answers import BASE_ANSWERS
from tests.conftest import requires_sqlite
from tests.journey import csrf_token, form_data, post_page

IDLE = timedelta(hours=2)


def _draft(app: Flask, answers: dict[str, object], screened: bool = False) -> str:
    with app.app_context():
        then = utcnow() - timedelta(minutes=5)
        token, draft = start_draft(db.session, then)
        save_answers(draft, answers, then)
        if screened:
            complete_screening(db.session, draft, then)
        db.session.commit()
    return token


def _row(app: Flask, token: str) -> Draft:
    with app.app_context():
        draft = db.session.get(Draft, hash_token(token))
        assert draft is not None
        db.session.expunge(draft)
        return draft


def test_a_changed_answer_is_saved_and_the_screening_forgotten(app: Flask) -> None:
    token = _draft(app, BASE_ANSWERS, screened=True)
    assert _row(app, token).screening_id is not None
    with app.app_context():
        now = utcnow()
        before = answers_for_saving(db.session, token, now, IDLE, engine=db.engine)
        assert before == BASE_ANSWERS
        changed = {"leg_symptoms": "no"} if BASE_ANSWERS.get("leg_symptoms") != "no" else {"leg_symptoms": "yes"}
        merged = save_page_answers(db.engine, token, before, changed, now)
        db.session.rollback()  # the save committed itself: nothing of it is in the session's transaction
    row = _row(app, token)
    assert merged is not None and row.answers == merged and merged["leg_symptoms"] == changed["leg_symptoms"]
    assert row.screening_id is None and row.updated_at == now
    with app.app_context():  # the screening itself is kept (it is stored whether or not a request follows)
        assert db.session.scalar(select(func.count()).select_from(Screening)) == 1


def test_the_same_answers_again_keep_the_screening_and_record_the_activity(app: Flask) -> None:
    token = _draft(app, BASE_ANSWERS, screened=True)
    screening_id = _row(app, token).screening_id
    with app.app_context():
        now = utcnow()
        merged = save_page_answers(db.engine, token, BASE_ANSWERS, {"red_flags": BASE_ANSWERS["red_flags"]}, now)
        db.session.rollback()
    row = _row(app, token)
    assert merged == BASE_ANSWERS == row.answers
    assert row.screening_id == screening_id and row.updated_at == now


def test_answers_that_no_longer_apply_are_dropped(app: Flask) -> None:
    """What ``save_answers`` does: the same merge, whichever way it is stored."""
    token = _draft(app, BASE_ANSWERS)
    scan = next(page for page in PAGES if page.slug == "imaging").fields[0]
    with app.app_context():
        merged = save_page_answers(db.engine, token, BASE_ANSWERS, {scan: "no"}, utcnow())
        db.session.commit()
        reference, _ = start_draft(db.session, utcnow())
        draft = db.session.get(Draft, hash_token(reference))
        assert draft is not None
        draft.answers = dict(BASE_ANSWERS)
        save_answers(draft, {scan: "no"}, utcnow())
        assert merged == draft.answers != BASE_ANSWERS
        db.session.rollback()


def test_a_draft_gone_since_it_was_read_saves_nothing(app: Flask) -> None:
    token = _draft(app, {"red_flags": ["none"]})
    with app.app_context():
        db.session.execute(delete(Draft))
        db.session.commit()
        assert save_page_answers(db.engine, token, {"red_flags": ["none"]}, {"leg_symptoms": "yes"}, utcnow()) is None
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0


def test_a_post_whose_draft_went_meanwhile_says_the_session_ended(app: Flask, client: FlaskClient) -> None:
    post_page(client, "safety", {"red_flags": ["none"]})
    token = csrf_token(client.get("/questions/symptoms").text)
    with app.app_context():
        db.session.execute(delete(Draft))
        db.session.commit()
    response = client.post("/questions/symptoms", data={"csrf_token": token, **form_data(PAGES[1], BASE_ANSWERS)})
    assert response.headers["Location"] == "/session-ended"


def test_an_invalid_first_answer_stores_no_draft(app: Flask, client: FlaskClient) -> None:
    response = post_page(client, "safety", {})
    assert response.status_code == 200  # the page again, with its error
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0
    assert post_page(client, "safety", {"red_flags": ["none"]}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 1


def test_a_draft_removed_between_the_read_and_the_save_says_the_session_ended(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_page(client, "safety", {"red_flags": ["none"]})
    token = csrf_token(client.get("/questions/symptoms").text)
    real = public_drafts.answers_for_saving

    def read_then_lose(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
        answers = real(*args, **kwargs)
        db.session.execute(delete(Draft))  # e.g. the retention job, between this read and the save
        db.session.commit()
        return answers

    monkeypatch.setattr(public_drafts, "answers_for_saving", read_then_lose)
    response = client.post("/questions/symptoms", data={"csrf_token": token, **form_data(PAGES[1], BASE_ANSWERS)})
    assert response.headers["Location"] == "/session-ended"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0


@requires_sqlite  # PostgreSQL's durability is the server's
def test_on_sqlite_the_save_is_one_statement_without_fsync_and_the_connection_goes_back_at_full(app: Flask) -> None:
    token = _draft(app, BASE_ANSWERS)
    statements: list[str] = []
    with app.app_context():
        db.engine.dispose()  # every connection from here on is traced from its start
        event.listen(db.engine, "connect", lambda connection, _record: connection.set_trace_callback(statements.append))
        assert save_page_answers(db.engine, token, BASE_ANSWERS, {"leg_symptoms": "no"}, utcnow()) is not None
        with db.engine.connect() as connection:
            level = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    saved = [line for line in statements if not line.startswith("PRAGMA") or "synchronous" in line]
    assert saved[:3] == ["PRAGMA synchronous = NORMAL", saved[1], "PRAGMA synchronous = FULL"]
    assert saved[1].startswith("UPDATE draft SET answers=")  # no BEGIN: the statement is its own transaction
    assert level == 2  # FULL


@requires_sqlite
def test_the_draft_write_durability_is_full_again_even_after_a_failure(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "d.sqlite3", isolation_level=None)
    connection.execute("PRAGMA synchronous = FULL")
    with pytest.raises(sqlite3.OperationalError), draft_write_durability(connection):
        assert connection.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        connection.execute("UPDATE no_such_table SET x = 1")
    assert connection.execute("PRAGMA synchronous").fetchone() == (2,)
    connection.close()
