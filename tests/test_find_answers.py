"""``find_answers`` (question pages' GET) behaves as ``find_draft`` then ``touch`` did, reading less."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from app.drafts import TOUCH_EVERY, find_answers, hash_token, save_answers, start_draft
from app.extensions import db
from app.models import Draft, utcnow

IDLE = timedelta(hours=2)


def _draft(app: Flask, age: timedelta) -> str:
    with app.app_context():
        then = utcnow() - age
        token, draft = start_draft(db.session, then)
        save_answers(draft, {"red_flags": ["none"]}, then)
        draft.contact = {"first_name": "Not read"}
        db.session.commit()
    return token


def _updated_at(app: Flask, token: str) -> object:
    with app.app_context():
        return db.session.scalar(select(Draft.updated_at).where(Draft.token_hash == hash_token(token)))


def test_answers_of_a_live_draft_and_its_activity_recorded(app: Flask) -> None:
    token = _draft(app, TOUCH_EVERY + timedelta(seconds=5))
    before = _updated_at(app, token)
    with app.app_context():
        now = utcnow()
        assert find_answers(db.session, token, now, IDLE) == {"red_flags": ["none"]}
        db.session.commit()
    assert _updated_at(app, token) == now != before


def test_recent_activity_is_not_written_again(app: Flask) -> None:
    token = _draft(app, timedelta(seconds=5))
    before = _updated_at(app, token)
    with app.app_context():
        assert find_answers(db.session, token, utcnow(), IDLE) == {"red_flags": ["none"]}
        db.session.commit()
    assert _updated_at(app, token) == before


def test_an_expired_draft_is_removed(app: Flask) -> None:
    token = _draft(app, IDLE + timedelta(minutes=1))
    with app.app_context():
        assert find_answers(db.session, token, utcnow(), IDLE) is None
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0


def test_unknown_or_implausible_tokens_find_nothing(app: Flask) -> None:
    _draft(app, timedelta(0))
    with app.app_context():
        for token in (None, "", "x" * 129, "not-a-token"):
            assert find_answers(db.session, token, utcnow(), IDLE) is None
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 1
