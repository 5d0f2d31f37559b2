"""/healthz: 200 when the database answers, 503 when it does not; never cached, limited or audited.

And /readyz and /metrics: the readiness checks, behind MONITORING_TOKEN."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import AuditEvent, OutboxMessage, utcnow
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


# --- /readyz and /metrics: the readiness checks, for monitoring that holds MONITORING_TOKEN ------------------

TOKEN = "monitor-" + "x" * 40
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_readiness_and_metrics_need_the_token(make_app: Any) -> None:
    closed = make_app()
    assert closed.test_client().get("/readyz", headers=BEARER).status_code == 404  # no token set: nothing there
    app = make_app(MONITORING_TOKEN=TOKEN)
    client = app.test_client()
    for path in ("/readyz", "/metrics"):
        assert client.get(path).status_code == 404
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_readiness_names_what_is_wrong(make_app: Any) -> None:
    app = make_app(MONITORING_TOKEN=TOKEN, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{_closed_port()}/0",
                   OUTBOX_MAX_BACKLOG=1)
    with app.app_context():
        for _ in range(2):
            db.session.add(OutboxMessage(recipient="intake@clinic.example", subject="s", body="b",
                                         next_attempt_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    response = app.test_client().get("/readyz", headers=BEARER)
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["migrations"]["ok"] and checks["encryption keys"]["ok"]
    assert checks["outbox"] == {"ok": False, "detail": "2 message(s) due and waiting, 0 failed: see Outbox in the "
                                                       "console, and the mail server's settings"}
    assert checks["backup"]["ok"] is False and "no verified backup yet" in checks["backup"]["detail"]
    assert checks["rate limits"]["ok"] is False  # a dead redis is no longer silent
    metrics = app.test_client().get("/metrics", headers=BEARER)
    assert metrics.status_code == 200 and metrics.mimetype == "text/plain"
    lines = metrics.text.splitlines()
    assert "mild_ready 0.0" in lines
    assert 'mild_check_ok{check="database"} 1.0' in lines
    assert 'mild_check_ok{check="rate limits"} 0.0' in lines
    assert "mild_last_backup_age_seconds NaN" in lines


def test_readiness_of_a_database_behind_the_code(make_app: Any, databases: Any, app_factory: Any) -> None:
    app = app_factory(databases.empty("unmigrated"), MONITORING_TOKEN=TOKEN)
    checks = app.test_client().get("/readyz", headers=BEARER).get_json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["migrations"]["ok"] is False and "run `flask db upgrade`" in checks["migrations"]["detail"]
    assert app.test_client().get("/healthz").status_code == 503  # the key scan cannot read the tables either
