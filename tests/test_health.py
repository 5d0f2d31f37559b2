"""/healthz: 200 when the database answers, 503 when it does not; never cached, limited or audited."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import AuditEvent
from config import TestingConfig


def test_ok_when_the_database_answers(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"


def test_unavailable_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    unreachable = tmp_path / "no-such-directory" / "mild.sqlite3"
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{unreachable}")
    try:
        response = app.test_client().get("/healthz")
    finally:
        with app.app_context():
            db.engine.dispose()
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}
    assert response.headers["Cache-Control"] == "no-store"
    assert str(tmp_path) not in response.text


def test_not_rate_limited_and_not_audited(make_app: object) -> None:
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC_POST="2 per minute")  # type: ignore[operator]
    client = app.test_client()
    assert {client.get("/healthz").status_code for _ in range(30)} == {200}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0
