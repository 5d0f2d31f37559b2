"""Retention: ``flask purge`` removes what is past its period, keeps the rest and the audit log, and says so."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from app.casework.audit import record
from app.casework.retention import PurgeCounts, RetentionPolicy, purge
from app.extensions import db
from app.intake.drafts import hash_token
from app.models import AuditEvent, ConsultationRequest, Draft, RequestEvent, Screening, utcnow
from tests.answers import answers_with
from tests.factories import seed_request

DAY = timedelta(days=1)
POLICY = RetentionPolicy.from_days(draft_idle=timedelta(hours=2), screening_days=730, request_days=2555)


def _request_id(reference: str) -> int:
    return db.session.scalars(select(ConsultationRequest.id).where(ConsultationRequest.reference == reference)).one()


def closed_request(app: Flask, at: datetime, **seed: str) -> str:
    """A request submitted and closed at ``at``; its reference."""
    reference = seed_request(app, created_at=at, **seed)
    with app.app_context():
        db.session.execute(update(ConsultationRequest).where(ConsultationRequest.reference == reference).values(
            status="closed", is_open=False, outcome="no_response", updated_at=at))
        db.session.add(RequestEvent(request_id=_request_id(reference), kind="status", status_from="new",
                                    status_to="closed", data={"outcome": "no_response"}, created_at=at))
        db.session.commit()
    return reference


def screening_at(app: Flask, at: datetime) -> int:
    """A stored screening with no request; its id."""
    with app.app_context():
        screening = Screening(answers=answers_with(), assessment={}, category="likely", score=6, cook_score=5,
                              rule_version="2026.1", created_at=at)
        db.session.add(screening)
        db.session.commit()
        return screening.id


def draft_at(app: Flask, at: datetime, screening_id: int | None = None) -> str:
    """A draft last touched at ``at``; its stored key."""
    with app.app_context():
        draft = Draft(token_hash=hash_token(secrets.token_urlsafe(16)), answers={}, contact={},
                      screening_id=screening_id, created_at=at, updated_at=at)
        db.session.add(draft)
        db.session.commit()
        return draft.token_hash


def table_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {model.__tablename__: int(db.session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Draft, Screening, ConsultationRequest, RequestEvent, AuditEvent)}


@pytest.fixture
def world(app: Flask) -> dict[str, object]:
    """One of everything, on each side of each retention limit (now = the real clock)."""
    now = utcnow()
    ancient, recent = now - 2600 * DAY, now - 100 * DAY
    old_closed = closed_request(app, ancient, phone="+14155550101")
    # Submitted within 30 days of the old one from the same phone: marked as its possible duplicate.
    duplicate = closed_request(app, ancient + 5 * DAY, phone="+14155550101")
    reopened_lately = closed_request(app, ancient, phone="+14155550102")
    noted_lately = closed_request(app, ancient, phone="+14155550103")
    with app.app_context():
        db.session.execute(update(ConsultationRequest).where(ConsultationRequest.reference == reopened_lately)
                           .values(updated_at=recent))
        db.session.add(RequestEvent(request_id=_request_id(noted_lately), kind="note", note="called back",
                                    created_at=recent))
        db.session.commit()
    world: dict[str, object] = {
        "now": now,
        "old_closed": old_closed, "duplicate": duplicate, "reopened_lately": reopened_lately,
        "noted_lately": noted_lately,
        "old_open": seed_request(app, created_at=ancient, phone="+14155550104"),  # open: never purged
        "old_screening": screening_at(app, now - 800 * DAY),
        "young_screening": screening_at(app, now - 700 * DAY),
        "expired_draft": draft_at(app, now - 3 * DAY),
        "live_draft": draft_at(app, now - timedelta(minutes=5)),
    }
    # A patient still looking at an old result keeps it (their draft is live).
    in_use = screening_at(app, now - 800 * DAY)
    world["screening_in_use"], world["draft_on_it"] = in_use, draft_at(app, now, in_use)
    with app.app_context():
        record(db.session, "view_request", now=ancient, staff_id=None, ip=None,
               target_type="consultation_request", target_id=_request_id(old_closed))
        db.session.commit()
    return world


def enforce_foreign_keys() -> None:
    """SQLite checks foreign keys only if asked, per connection; PostgreSQL always checks them."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.connection().exec_driver_sql("PRAGMA foreign_keys = ON")


def foreign_key_violations() -> list[object]:
    """Rows whose foreign key points nowhere. PostgreSQL refuses such a row when it is written, so none can
    exist there; SQLite is asked to look."""
    if db.session.get_bind().dialect.name != "sqlite":
        return []
    return list(db.session.connection().exec_driver_sql("PRAGMA foreign_key_check").all())


def references(app: Flask) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(ConsultationRequest.reference)))


def test_purge_removes_what_is_past_retention_and_keeps_the_rest(app: Flask, world: dict[str, object]) -> None:
    before = table_counts(app)
    with app.app_context():
        enforce_foreign_keys()
        counts = purge(db.session, world["now"], POLICY)  # type: ignore[arg-type]
        db.session.commit()
        assert foreign_key_violations() == []
    # The duplicate was closed at the same time, so it goes too; it pointed at the other one.
    assert counts == PurgeCounts(drafts=1, screenings=1, requests=2, request_events=4)
    assert references(app) == {world["reopened_lately"], world["noted_lately"], world["old_open"]}
    with app.app_context():
        screenings = set(db.session.scalars(select(Screening.id)))
        assert world["old_screening"] not in screenings
        assert {world["young_screening"], world["screening_in_use"]} <= screenings
        drafts = set(db.session.scalars(select(Draft.token_hash)))
        assert drafts == {world["live_draft"], world["draft_on_it"]}
        assert db.session.scalar(select(func.count()).select_from(RequestEvent).where(
            RequestEvent.request_id.not_in(select(ConsultationRequest.id)))) == 0
    after = table_counts(app)
    assert after["audit_event"] == before["audit_event"]  # audit rows stay (the caller adds the purge row)
    assert after["screening"] == before["screening"] - 3  # one without a request, two with their requests


def test_a_request_marked_as_duplicate_of_a_purged_one_loses_only_the_marker(app: Flask) -> None:
    now = utcnow()
    old = closed_request(app, now - 2600 * DAY, phone="+14155550120")
    kept = seed_request(app, created_at=now - 2590 * DAY, phone="+14155550120")  # open, so kept
    with app.app_context():
        assert db.session.scalars(select(ConsultationRequest.duplicate_of_id)
                                  .where(ConsultationRequest.reference == kept)).one() == _request_id(old)
        version = db.session.scalars(select(ConsultationRequest.version)
                                     .where(ConsultationRequest.reference == kept)).one()
        enforce_foreign_keys()
        purge(db.session, now, POLICY)
        db.session.commit()
        row = db.session.scalars(select(ConsultationRequest).where(ConsultationRequest.reference == kept)).one()
        assert (row.duplicate_of_id, row.version, row.status) == (None, version, "new")


def test_a_draft_pointing_at_a_purged_requests_screening_is_unlinked(app: Flask) -> None:
    now = utcnow()
    short = RetentionPolicy.from_days(draft_idle=timedelta(days=30), screening_days=1, request_days=1)
    old = closed_request(app, now - 3 * DAY)
    with app.app_context():
        screening_id = db.session.scalars(select(ConsultationRequest.screening_id)
                                          .where(ConsultationRequest.reference == old)).one()
    draft = draft_at(app, now - DAY, screening_id)
    with app.app_context():
        enforce_foreign_keys()
        assert purge(db.session, now, short).requests == 1
        db.session.commit()
        assert db.session.get(Draft, draft).screening_id is None  # type: ignore[union-attr]


def test_many_expired_requests_are_removed_in_batches(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.casework.retention.BATCH", 2)
    now = utcnow()
    for number in range(5):
        closed_request(app, now - (3000 + number) * DAY, phone=f"+1415555012{number}")
    for _ in range(3):
        screening_at(app, now - 800 * DAY)
    with app.app_context():
        enforce_foreign_keys()
        assert purge(db.session, now, POLICY) == PurgeCounts(drafts=0, screenings=3, requests=5, request_events=10)
        db.session.commit()
    assert table_counts(app)["screening"] == 0


def test_a_dry_run_counts_the_same_and_changes_nothing(app: Flask, world: dict[str, object]) -> None:
    before = table_counts(app)
    with app.app_context():
        would = purge(db.session, world["now"], POLICY, dry_run=True)  # type: ignore[arg-type]
        db.session.commit()
    assert table_counts(app) == before
    with app.app_context():
        assert purge(db.session, world["now"], POLICY) == would  # type: ignore[arg-type]


def test_the_command_prints_counts_and_audits_numbers_only(app: Flask, runner: FlaskCliRunner,
                                                            world: dict[str, object]) -> None:
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "Removed 1 expired draft(s), 1 screening(s) without a request, 2 closed request(s)" in result.output
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).all()
        assert len(events) == 1
        assert events[0].detail == {"drafts": 1, "screenings": 1, "requests": 2, "request_events": 4}
        assert (events[0].staff_id, events[0].target_id, events[0].ip) == (None, None, None)
        # The audit row about the purged request is still there, by id only.
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "view_request")) == 1
    again = runner.invoke(args=["purge"])
    assert "Removed 0 expired draft(s), 0 screening(s) without a request, 0 closed request(s)" in again.output


def test_the_command_dry_run_changes_nothing_and_writes_no_audit_row(app: Flask, runner: FlaskCliRunner,
                                                                     world: dict[str, object]) -> None:
    before = table_counts(app)
    result = runner.invoke(args=["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Would remove 1 expired draft(s), 1 screening(s)")
    assert table_counts(app) == before


def test_the_command_reads_the_retention_settings(make_app: Callable[..., Flask]) -> None:
    app = make_app(SCREENING_RETENTION_DAYS=10, REQUEST_RETENTION_DAYS=20)
    now = utcnow()
    closed_request(app, now - 25 * DAY)
    closed_request(app, now - 15 * DAY)
    screening_at(app, now - 11 * DAY)
    screening_at(app, now - 9 * DAY)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert "1 screening(s) without a request, 1 closed request(s)" in result.output
    assert len(references(app)) == 1


@pytest.mark.parametrize(("screening_days", "request_days"), [(0, 10), (10, 0), (-1, 5)])
def test_a_retention_period_under_a_day_is_refused(screening_days: int, request_days: int) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        RetentionPolicy.from_days(draft_idle=timedelta(hours=2), screening_days=screening_days,
                                  request_days=request_days)


def test_the_database_still_refuses_to_delete_audit_rows(app: Flask, runner: FlaskCliRunner,
                                                         world: dict[str, object]) -> None:
    runner.invoke(args=["purge"])
    with app.app_context(), pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("DELETE FROM audit_event"))
