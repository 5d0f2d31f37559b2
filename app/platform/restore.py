"""Checking a backup and restoring it, safely.

Restoring by copying a file over a SQLite database is a trap: a ``-wal`` file left beside it belongs to the old
database, and SQLite replays it into the restored one (a request that is not in the backup comes back, or an
index is corrupted). ``restore_sqlite`` therefore refuses while any app process has the database open (each
holds a shared lock on ``<database>.lock``, see ``hold_run_lock``), checks the backup first, moves the old
database and its ``-wal`` and ``-shm`` aside (kept, never deleted), and only then moves the backup into place.
PostgreSQL is restored with ``pg_restore`` into an empty database that nobody else is connected to.

Before either, ``inspect_backup`` proves the backup is readable: SQLite's integrity check on a private copy (or
``pg_restore`` reading the whole archive), the migration revision it is at, and, for SQLite, which data keys
its rows need that the configuration lacks.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session

from app.platform.backup import BackupError, pg_environment
from app.security.key_rotation import EncryptedTable, unknown_key_ids


class RestoreError(BackupError):
    """The backup was not restored; the live database is as it was."""


@dataclass(frozen=True)
class BackupReport:
    """What a backup holds: its kind, migration revision and the data keys it needs that are missing."""

    path: Path
    dialect: str
    revision: str | None
    missing_keys: frozenset[str] = field(default_factory=frozenset)


def lock_path(url: str | URL) -> Path | None:
    """The run-lock file of a SQLite database (``<file>.lock``), or None for other databases."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).absolute().with_name(Path(database).name + ".lock")


def hold_worker_lock(url: str | URL) -> int | None:
    """Take the one-worker lock of a SQLite database (``<file>.worker.lock``); None for other databases.

    Raises ``BlockingIOError`` when another worker holds it: SQLite serialises writers, so a second worker
    would only wait for the first; PostgreSQL takes several (they skip each other's locked rows).
    """
    path = lock_path(url)
    if path is None:
        return None
    descriptor = os.open(path.with_name(path.name.removesuffix(".lock") + ".worker.lock"),
                         os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise
    return descriptor


def hold_run_lock(url: str | URL) -> int | None:
    """Take a shared lock on the database's run-lock file; return its descriptor (closing it lets go).

    Every app process holds one while it has the app, so a restore, which needs the lock to itself, knows
    the app is running.
    """
    path = lock_path(url)
    if path is None or not path.parent.is_dir():
        return None
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_SH)
    return descriptor


def _take_exclusive(descriptor: int | None, url: str | URL) -> int:
    """Turn this process's shared run lock into an exclusive one, or refuse: another process has it open."""
    opened_here = descriptor is None
    if descriptor is None:
        path = lock_path(url)
        assert path is not None  # noqa: S101 - only called for a SQLite file
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if opened_here:
            os.close(descriptor)
        raise RestoreError("the app is running (a web server, worker or another flask command has the database "
                           "open): stop it first, e.g. `systemctl stop mild-web mild-worker`, then restore") from None
    return descriptor


def _sqlite_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def inspect_backup(path: Path, dialect: str, tables: Sequence[EncryptedTable], known_keys: Sequence[str],
                   pg_restore: str = "pg_restore") -> BackupReport:
    """Prove ``path`` restores: integrity, revision, and (SQLite) the keys its rows need that are not known."""
    path = Path(path).expanduser().absolute()
    if not path.is_file():
        raise RestoreError(f"{path} is not a file")
    if dialect == "postgresql":
        return _inspect_dump(path, pg_restore)
    with tempfile.TemporaryDirectory(prefix="mild-verify-") as scratch:
        # A private copy: opening the backup itself would create -wal and -shm files beside it.
        copy = Path(scratch) / "backup.sqlite3"
        shutil.copyfile(path, copy)
        try:
            with closing(sqlite3.connect(copy)) as connection:
                result = connection.execute("PRAGMA integrity_check").fetchall()
                revision = _sqlite_revision(connection)
        except sqlite3.DatabaseError as error:
            raise RestoreError(f"{path.name} is not a readable SQLite database ({error})") from None
        if result != [("ok",)]:
            raise RestoreError(f"{path.name} failed SQLite's integrity check: {result[:3]}")
        if revision is None:
            raise RestoreError(f"{path.name} has no migration revision: it is not a backup of this app")
        engine = create_engine(f"sqlite:///{copy}")
        try:
            with Session(engine) as session:
                missing = unknown_key_ids(session, tables, known_keys)
        finally:
            engine.dispose()
    return BackupReport(path, "sqlite", revision, frozenset(missing))


def _inspect_dump(path: Path, pg_restore: str) -> BackupReport:
    """Read the whole custom-format archive with ``pg_restore`` (as a restore would) and find its revision."""
    executable = shutil.which(pg_restore)
    if executable is None:
        raise RestoreError(f"{pg_restore} was not found; install the PostgreSQL client tools")
    completed = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [executable, "--data-only", "--table=alembic_version", "--file=-", str(path)],
        capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RestoreError(f"pg_restore cannot read {path.name}: {_last_line(completed.stderr)}")
    revision = _copied_revision(completed.stdout)
    full = subprocess.run([executable, "--file=/dev/null", str(path)],  # noqa: S603 - every data block is read
                          capture_output=True, text=True, check=False)
    if full.returncode != 0:
        raise RestoreError(f"pg_restore cannot read all of {path.name}: {_last_line(full.stderr)}")
    if revision is None:
        raise RestoreError(f"{path.name} has no migration revision: it is not a backup of this app")
    return BackupReport(path, "postgresql", revision)


def _copied_revision(script: str) -> str | None:
    lines = script.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and number + 1 < len(lines):
            value = lines[number + 1].strip()
            return None if value == "\\." else value
    return None


def _last_line(text_: str) -> str:
    return (text_.strip().splitlines() or ["no message"])[-1]


def restore_sqlite(backup: Path, url: str | URL, run_lock: int | None, now: datetime) -> Path:
    """Put ``backup`` in place of the database at ``url``; return where the old database was moved.

    The caller checked the backup with ``inspect_backup``. ``run_lock`` is this process's own shared run lock
    (or None), turned exclusive here so nothing can open the database during the swap.
    """
    target = Path(make_url(url).database or "").absolute()
    handle = _take_exclusive(run_lock, url)
    try:
        handle_fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".restoring", dir=target.parent)
        os.close(handle_fd)
        incoming = Path(name)
        try:
            shutil.copyfile(backup, incoming)
            with incoming.open("rb+") as stream:
                os.fsync(stream.fileno())
            kept = target.with_name(f"{target.name}.before-restore-{now:%Y%m%dT%H%M%SZ}")
            # The old database moves aside whole: main file, and the -wal and -shm that belong to it (their names
            # follow the main file's, so the kept copy still opens with everything it had).
            moved = []
            for suffix in ("", "-wal", "-shm"):
                old = Path(f"{target}{suffix}")
                if old.exists():
                    os.replace(old, Path(f"{kept}{suffix}"))
                    moved.append(suffix)
            try:
                os.replace(incoming, target)
            except OSError:
                for suffix in moved:  # put the old database back as it was
                    os.replace(Path(f"{kept}{suffix}"), Path(f"{target}{suffix}"))
                raise
        finally:
            incoming.unlink(missing_ok=True)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        if run_lock is None:
            os.close(handle)
        else:
            fcntl.flock(handle, fcntl.LOCK_SH)
    return kept


# After a restore the tables are new, and the default privileges gave the runtime role every right on them:
# take the audit log's UPDATE, DELETE and TRUNCATE away again from all but the owner (as migration 0013 does;
# a migration keeps its own copy of its SQL, so this one does not import it).
AUDIT_APPEND_ONLY_RIGHTS = """
DO $$
DECLARE grantee_name text;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name = 'audit_event'
          AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
          AND grantee <> (SELECT tableowner FROM pg_tables WHERE schemaname = current_schema()
                          AND tablename = 'audit_event')
    LOOP
        IF grantee_name = 'PUBLIC' THEN
            REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM PUBLIC;
        ELSE
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM %I', grantee_name);
        END IF;
    END LOOP;
END $$;
"""


def restore_postgresql(backup: Path, url: str | URL, pg_restore: str = "pg_restore") -> None:
    """``pg_restore`` the custom-format ``backup`` into the database at ``url``, which must be empty and idle."""
    database_url = make_url(url)
    engine = create_engine(database_url)
    try:
        _refuse_busy_or_not_empty(engine)
    finally:
        engine.dispose()
    executable = shutil.which(pg_restore)
    if executable is None:
        raise RestoreError(f"{pg_restore} was not found; install the PostgreSQL client tools")
    # --no-owner: every object belongs to whoever restores (the owner role), as after `flask db upgrade`; the
    # runtime role's rights come from the default privileges (deploy/README.md). One transaction: all or nothing.
    command = [executable, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
               "--no-password", f"--dbname={database_url.database}", str(backup)]
    completed = subprocess.run(command, env=pg_environment(database_url, os.environ),  # noqa: S603 - no shell
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RestoreError(f"pg_restore failed (exit {completed.returncode}): {_last_line(completed.stderr)}")
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(AUDIT_APPEND_ONLY_RIGHTS))
    finally:
        engine.dispose()


def _refuse_busy_or_not_empty(engine: Engine) -> None:
    with engine.connect() as connection:
        others = connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).scalar_one()
        tables = connection.execute(text(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")).scalar_one()
    if others:
        raise RestoreError(f"{others} other connection(s) to the database: stop the app first, e.g. "
                           "`systemctl stop mild-web mild-worker`")
    if tables:
        raise RestoreError("the database is not empty: restore into a new, empty database (deploy/README.md, "
                           "Restore) and point DATABASE_URL at it")
