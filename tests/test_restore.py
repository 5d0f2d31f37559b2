"""``flask restore`` and ``flask backup --verify / --scheduled``: backups that restore, and restores that are safe.

The two SQLite traps are shown first with the naive restore (copying the backup over the database), then with
``flask restore``: a ``-wal`` file left by the old database brings back a request that is not in the backup, or
(with more writes in it) corrupts the restored file.
"""

from __future__ import annotations

import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text

from app.extensions import db
from app.models import AuditEvent, ConsultationRequest, OutboxMessage, utcnow
from app.security.crypto import new_key_spec
from tests.conftest import Databases, requires_postgres, requires_sqlite
from tests.factories import login, make_staff, seed_request

ROOT = Path(__file__).resolve().parents[1]

# A process that writes requests and dies without closing its connections: its writes stay in the -wal file.
WRITE_AND_DIE = """
import os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.conftest import _make_app
from tests.factories import seed_request
app = _make_app(Path({database!r}))
for _ in range({count}):
    seed_request(app, "possible")
os._exit(0)
"""


SERVE = """
import sys, time
sys.path.insert(0, {root!r})
from tests.conftest import _make_app
app = _make_app({url!r})
app.test_client().get("/healthz")  # it has served a request: its connection pool is open
print("ready", flush=True)
time.sleep(120)
"""


def references(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT reference FROM consultation_request")).scalars())
    finally:
        engine.dispose()


def integrity(path: Path) -> list[tuple[str]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("PRAGMA integrity_check").fetchall()[:3]


def live_with_a_leftover_wal(databases: Databases, app_factory: Callable[..., Flask], tmp_path: Path,
                             later_writes: int) -> tuple[Flask, Path, Path, str]:
    """A live database with one request, its verified backup, then ``later_writes`` requests left in the -wal."""
    url = databases.migrated("live")
    live = Path(url.removeprefix("sqlite:///"))
    app = app_factory(url)
    kept = seed_request(app, "likely")
    backup = tmp_path / "backup.sqlite3"
    assert app.test_cli_runner().invoke(args=["backup", "--verify", str(backup)]).exit_code == 0
    with app.app_context():
        db.engine.dispose()  # the last connection to close folds the -wal into the file: start from none
    subprocess.run([sys.executable, "-c", WRITE_AND_DIE.format(root=str(ROOT), database=str(live),
                                                                count=later_writes)], check=True, timeout=120)
    assert Path(f"{live}-wal").stat().st_size > 0
    return app, live, backup, kept


@requires_sqlite  # the -wal trap is SQLite's
@pytest.mark.parametrize("later_writes", [1, 300], ids=["a request comes back", "the file is corrupted"])
def test_copying_a_backup_over_a_database_with_a_leftover_wal_is_the_trap(
        databases: Databases, app_factory: Callable[..., Flask], tmp_path: Path, later_writes: int) -> None:
    _app, live, backup, _kept = live_with_a_leftover_wal(databases, app_factory, tmp_path, later_writes)
    shutil.copyfile(backup, live)  # what an admin would try
    if later_writes == 1:
        assert len(references(f"sqlite:///{live}")) == 2  # a request that is not in the backup is back
    else:
        assert integrity(live) != [("ok",)]


@requires_sqlite
@pytest.mark.parametrize("later_writes", [1, 300], ids=["no request comes back", "the file is sound"])
def test_flask_restore_puts_back_exactly_the_backup_and_keeps_the_old_database(
        databases: Databases, app_factory: Callable[..., Flask], tmp_path: Path, later_writes: int) -> None:
    app, live, backup, kept = live_with_a_leftover_wal(databases, app_factory, tmp_path, later_writes)
    result = app.test_cli_runner().invoke(args=["restore", str(backup)])
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output and "kept as" in result.output
    assert integrity(live) == [("ok",)]
    assert references(f"sqlite:///{live}") == {kept}
    assert stat.S_IMODE(live.stat().st_mode) == 0o600
    # Nothing lost: the replaced database, with its -wal, is kept beside it and still has every request.
    (old,) = [p for p in live.parent.iterdir() if ".before-restore-" in p.name and p.name.endswith("Z")]
    old_references = references(f"sqlite:///{old}")
    assert kept in old_references and len(old_references) == 1 + later_writes
    # The app keeps working on the restored database, and the restore is in its audit log.
    with app.app_context():
        assert set(db.session.scalars(select(ConsultationRequest.reference))) == {kept}
        assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "restore")).one()


@requires_sqlite  # PostgreSQL's "running" check counts connections: test_postgresql_restore_*
def test_restore_refuses_while_the_app_is_running(databases: Databases, app_factory: Callable[..., Flask],
                                                  tmp_path: Path) -> None:
    url = databases.migrated("live")
    app = app_factory(url)
    reference = seed_request(app, "likely")
    backup = tmp_path / "backup.sqlite3"
    assert app.test_cli_runner().invoke(args=["backup", str(backup)]).exit_code == 0
    seed_request(app, "possible")
    # Another process has the app (a web worker that has served a request): it need not be busy now.
    serving = subprocess.Popen([sys.executable, "-c", SERVE.format(root=str(ROOT), url=url)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert serving.stdout is not None and serving.stdout.readline().strip() == "ready"
        result = app.test_cli_runner().invoke(args=["restore", str(backup)])
        assert result.exit_code != 0
        assert "the app is running" in result.output and "stop it first" in result.output
        assert len(references(url)) == 2  # untouched
    finally:
        serving.kill()
        serving.wait(timeout=30)
        serving.stdout.close()
    assert app.test_cli_runner().invoke(args=["restore", str(backup)]).exit_code == 0
    assert references(url) == {reference}


@requires_sqlite
def test_a_damaged_backup_or_one_needing_a_missing_key_is_refused_and_nothing_changes(
        databases: Databases, app_factory: Callable[..., Flask], tmp_path: Path) -> None:
    url = databases.migrated("live")
    app = app_factory(url)
    seed_request(app, "likely")
    backup = tmp_path / "backup.sqlite3"
    assert app.test_cli_runner().invoke(args=["backup", str(backup)]).exit_code == 0
    damaged = tmp_path / "damaged.sqlite3"
    data = bytearray(backup.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4096] = b"\xff" * 4096
    damaged.write_bytes(bytes(data))
    refused = app.test_cli_runner().invoke(args=["restore", str(damaged)])
    assert refused.exit_code != 0 and ("integrity check" in refused.output or "not a readable" in refused.output)
    not_ours = tmp_path / "other.sqlite3"
    with closing(sqlite3.connect(not_ours)) as other:
        other.execute("CREATE TABLE t (x)")
    assert "not a backup of this app" in app.test_cli_runner().invoke(args=["restore", str(not_ours)]).output
    # A server whose keys do not open the backup's rows says which key is missing before changing anything.
    new_keys = app_factory(databases.migrated("other"), DATA_ENCRYPTION_KEYS=new_key_spec("k9"))
    result = new_keys.test_cli_runner().invoke(args=["restore", "--check", str(backup)])
    assert result.exit_code != 0 and "key(s) dev1" in result.output
    assert len(references(url)) == 1


def test_scheduled_backups_are_verified_kept_to_a_count_and_their_age_is_shown(
        databases: Databases, app_factory: Callable[..., Flask], tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    app = app_factory(databases.migrated("live"), BACKUP_DIR=str(folder), BACKUP_KEEP=2, MONITORING_TOKEN="t" * 32)
    seed_request(app, "likely")
    client = app.test_client()
    before = client.get("/readyz", headers={"Authorization": "Bearer " + "t" * 32}).get_json()
    assert before["checks"]["backup"]["ok"] is False
    names = []
    for _ in range(3):
        result = app.test_cli_runner().invoke(args=["backup", "--scheduled"])
        assert result.exit_code == 0, result.output
        assert "verified: it restores" in result.output
        names.append(result.output.split(" to ")[1].split(" (")[0])
        time.sleep(1.05)  # one file per second: the name is the time
    kept = sorted(folder.iterdir())
    assert [p.name for p in kept] == sorted(Path(n).name for n in names)[1:]  # the oldest was removed
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in kept)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    after = client.get("/readyz", headers={"Authorization": "Bearer " + "t" * 32}).get_json()
    assert after["checks"]["backup"]["ok"] is True
    assert after["checks"]["backup"]["detail"].startswith("last verified backup 0.0 h ago")
    admin = make_staff(app, "admin")
    login(client, admin)
    page = client.get("/staff/admin/system")
    assert page.status_code == 200
    assert "Last verified backup" in page.text and kept[-1].name in page.text


@requires_postgres  # pg_restore into an empty database
def test_postgresql_restore_needs_an_empty_idle_database(databases: Databases, app_factory: Callable[..., Flask],
                                                         tmp_path: Path) -> None:
    app = app_factory(databases.migrated("live"))
    reference = seed_request(app, "likely")
    backup = tmp_path / "mild.dump"
    verified = app.test_cli_runner().invoke(args=["backup", "--verify", str(backup)])
    assert verified.exit_code == 0 and "verified: it restores" in verified.output, verified.output
    # Into the live database (not empty): refused.
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    refused = app.test_cli_runner().invoke(args=["restore", str(backup)])
    assert refused.exit_code != 0 and "not empty" in refused.output
    # Into a new, empty database: every row, and the app works on it.
    empty = databases.empty("restored")
    target = app_factory(empty)
    someone = create_engine(empty)
    try:
        with someone.connect():  # someone else connected: refused
            assert "other connection" in target.test_cli_runner().invoke(args=["restore", str(backup)]).output
    finally:
        someone.dispose()
    with target.app_context():
        db.engine.dispose()
    restored = target.test_cli_runner().invoke(args=["restore", str(backup)])
    assert restored.exit_code == 0, restored.output
    assert references(empty) == {reference}


def test_maintenance_commands_exit_non_zero_when_something_failed(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAIL_INTAKE_ADDRESS="intake@clinic.example", MAIL_SERVER="127.0.0.1", MAIL_PORT=1,
                   MAIL_TIMEOUT=1)
    with app.app_context():
        db.session.add(OutboxMessage(recipient="intake@clinic.example", subject="s", body="b",
                                     next_attempt_at=utcnow()))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 1
    assert "will retry 1" in result.output
    bad = app.test_cli_runner().invoke(args=["backup", "/no/such/folder/x.sqlite3"])
    assert bad.exit_code != 0
