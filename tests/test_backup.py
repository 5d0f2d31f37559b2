"""``flask backup``: a consistent copy of the live database, taken while it is being written to."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import AuditEvent, ConsultationRequest, RequestEvent
from app.platform.backup import BackupError, backup_database
from config import TestingConfig
from tests.conftest import ON_POSTGRES, Databases, _make_app, requires_sqlite
from tests.factories import seed_request

DIALECT = "postgresql" if ON_POSTGRES else "sqlite"


def stored_references(app: Flask) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(ConsultationRequest.reference)))


def restore(target: Path, databases: Databases) -> Flask:
    """An app on the backup at ``target``: the SQLite file itself (after an integrity check), or a new
    PostgreSQL database that ``pg_restore`` fills from the dump."""
    if not ON_POSTGRES:
        with closing(sqlite3.connect(target)) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{target}")
    url = databases.empty("restored")
    pg_restore = shutil.which("pg_restore")
    assert pg_restore, "pg_restore (PostgreSQL client tools) is needed to check a PostgreSQL backup"
    libpq_url = url.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run([pg_restore, "--no-owner", "--exit-on-error", f"--dbname={libpq_url}", str(target)],
                   check=True, capture_output=True)
    return _make_app(url)


def test_a_backup_taken_while_another_thread_writes_restores_whole(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, databases: Databases
) -> None:
    before = {seed_request(app, last_name=f"Before{n}") for n in range(5)}
    written: list[str] = []
    errors: list[BaseException] = []
    stop, going = threading.Event(), threading.Event()

    def keep_writing() -> None:
        try:
            while not stop.is_set():
                written.append(seed_request(app, last_name="During"))
                if len(written) >= 3:
                    going.set()
        except BaseException as exc:  # reported by the assertion below, not lost in the thread
            errors.append(exc)
            going.set()

    writer = threading.Thread(target=keep_writing, name="writer")
    writer.start()
    try:
        assert going.wait(30)
        target = tmp_path / "copy.backup"
        result = runner.invoke(args=["backup", str(target)])
        count_at_end_of_backup = len(written)
        # Let the writer carry on a little after the backup, so it demonstrably kept working.
        while len(written) < count_at_end_of_backup + 3 and not errors:
            threading.Event().wait(0.01)
    finally:
        stop.set()
        writer.join(30)
    assert not errors, errors
    assert result.exit_code == 0, result.output
    assert f"Backed up the {DIALECT} database to {target}" in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # patient data: readable by its owner only
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]

    restored = restore(target, databases)
    try:
        copied = stored_references(restored)
        assert before <= copied <= before | set(written)  # a snapshot: everything before, nothing invented
        with restored.app_context():
            for request in db.session.scalars(select(ConsultationRequest)):
                # Consistent: every request arrived with its screening and its timeline, and decrypts.
                assert request.screening is not None
                assert [event.kind for event in request.events] == ["submitted"]
                assert request.last_name.startswith(("Before", "During"))
            assert db.session.scalar(select(RequestEvent.id).where(
                RequestEvent.request_id.not_in(select(ConsultationRequest.id)))) is None
    finally:
        with restored.app_context():
            db.engine.dispose()

    with app.app_context():
        audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "backup")).one()
        assert audit.detail["dialect"] == DIALECT
        assert audit.detail["path"] == str(target)
        assert audit.detail["bytes"] == target.stat().st_size
        assert audit.staff_id is None


def test_an_existing_file_is_kept_unless_forced(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, databases: Databases
) -> None:
    seed_request(app)
    target = tmp_path / "copy.backup"
    target.write_text("yesterday's backup")
    refused = runner.invoke(args=["backup", str(target)])
    assert refused.exit_code != 0
    assert "already exists; use --force" in refused.output
    assert target.read_text() == "yesterday's backup"
    forced = runner.invoke(args=["backup", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    restored = restore(target, databases)
    with restored.app_context():
        assert db.session.scalar(select(func.count()).select_from(ConsultationRequest)) == 1
        db.session.remove()
        db.engine.dispose()
    with app.app_context():
        assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "backup")).all()) == 1


@requires_sqlite  # a SQLite database is a file a backup could overwrite; pg_dump writes no database file
def test_the_live_database_is_never_the_target(app: Flask, runner: FlaskCliRunner) -> None:
    live = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    size = live.stat().st_size
    result = runner.invoke(args=["backup", str(live), "--force"])
    assert result.exit_code != 0
    assert "live database" in result.output
    assert live.stat().st_size == size
    assert stored_references(app) == set()  # still a working database


@pytest.mark.parametrize(("url", "message"), [
    ("sqlite://", "only a SQLite database in a file"),
    ("sqlite:////nowhere/at/all.sqlite3", "does not exist"),
    ("mysql://u:p@h/db", "not supported"),
])
def test_unusable_sources_are_refused(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(BackupError, match=message):
        backup_database(url, tmp_path / "copy")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_refused(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(args=["backup", str(tmp_path / "no" / "such" / "copy.sqlite3")])
    assert result.exit_code != 0
    assert "does not exist" in result.output


# --- PostgreSQL: pg_dump is replaced by a script that records how it was called ----------------------

FAKE_PG_DUMP = """#!{python}
import json, os, sys
target = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--file="))
if os.environ.get("PGDATABASE") == "broken":
    sys.stderr.write("pg_dump: error: connection to server failed\\n")
    sys.exit(1)
with open(target, "w") as out:
    json.dump({{"argv": sys.argv[1:], "env": {{k: v for k, v in os.environ.items() if k.startswith("PG")}}}}, out)
"""


@pytest.fixture
def fake_pg_dump(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    script = tmp_path / "bin" / "pg_dump"
    script.parent.mkdir()
    script.write_text(FAKE_PG_DUMP.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PGHOST", "inherited.example")  # must not override the app's own URL
    monkeypatch.setenv("PGPASSWORD", "inherited")
    return str(script)


def test_postgresql_is_dumped_in_custom_format_with_the_password_only_in_the_environment(
    tmp_path: Path, fake_pg_dump: str
) -> None:
    url = "postgresql+psycopg://mild_app:s3cret%20pass@db.example:5433/mild?sslmode=verify-full"
    target = tmp_path / "mild.dump"
    result = backup_database(url, target, pg_dump=fake_pg_dump)
    call = json.loads(target.read_text())
    assert "--format=custom" in call["argv"] and "--no-password" in call["argv"]
    assert not [arg for arg in call["argv"] if "s3cret" in arg or "db.example" in arg or "mild_app" in arg]
    assert call["env"] == {"PGHOST": "db.example", "PGPORT": "5433", "PGUSER": "mild_app",
                           "PGPASSWORD": "s3cret pass", "PGDATABASE": "mild", "PGSSLMODE": "verify-full"}
    assert (result.dialect, result.path, result.size) == ("postgresql", target, target.stat().st_size)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_failed_pg_dump_leaves_no_file_and_says_why(tmp_path: Path, fake_pg_dump: str) -> None:
    target = tmp_path / "mild.dump"
    with pytest.raises(BackupError, match="connection to server failed"):
        backup_database("postgresql://u:pw@h/broken", target, pg_dump=fake_pg_dump)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bin"]


def test_postgresql_refuses_unknown_url_options_and_a_missing_pg_dump(tmp_path: Path, fake_pg_dump: str) -> None:
    with pytest.raises(BackupError, match="'weird'"):
        backup_database("postgresql://u:pw@h/db?weird=1", tmp_path / "a.dump", pg_dump=fake_pg_dump)
    with pytest.raises(BackupError, match="not found"):
        backup_database("postgresql://u:pw@h/db", tmp_path / "b.dump", pg_dump=str(tmp_path / "no-pg-dump"))
    assert [p.name for p in tmp_path.iterdir()] == ["bin"]
