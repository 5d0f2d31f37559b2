"""SQLite settings for several workers writing at once without losing a submission.

SQLAlchemy's pysqlite recipe ("Serializable isolation / Savepoints / Transactional DDL" in its SQLite
dialect documentation) switches the driver's own ``BEGIN`` off and emits one from SQLAlchemy's events.
Here the ``BEGIN IMMEDIATE`` is emitted just before a transaction's first write (or savepoint), so it
takes the write lock before it changes anything: a worker that finds the lock taken waits
(``busy_timeout``) and then goes ahead. The driver's deferred ``BEGIN`` instead fails at once with
"database is locked", whatever the timeout, when two workers' transactions both want to write.

Why at the first write and not at the start of every transaction (the documented recipe): with
``BEGIN IMMEDIATE`` for all, every request that only reads (the questionnaire pages, the staff queue, a
streamed CSV export) would hold the single write lock while it runs and queue behind every other one,
and a long export would hold up patients' submissions. Reads before the first write therefore run
outside a transaction, each seeing the latest committed data, which is what the driver did before and
what PostgreSQL's READ COMMITTED gives; the app's guards against races do not rely on a read snapshot
(the unique constraint in ``submit_request``, the version column, the outbox's conditional claim).
From the first write to the commit, the transaction is serialised with every other writer.

Every connection gets:

- ``journal_mode=WAL``: readers and one writer do not block each other; the mode is stored in the file.
- ``busy_timeout``: how long a worker queues for the write lock before giving up.
- ``synchronous=FULL``: every commit is on disk before the patient sees a reference, even after a power
  cut (WAL's usual NORMAL may lose the last commits). One rule for every write, drafts included.
- ``foreign_keys=ON``: SQLite enforces the schema's foreign keys only when asked, per connection.
  (migrations/env.py turns them off while Alembic changes tables, as SQLite's own procedure says.)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, make_url
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

# Seconds a worker waits for the write lock. Long enough to queue behind a burst of submissions and a
# ``keys rotate`` batch; short enough to fail well inside gunicorn's worker timeout (30 s).
DEFAULT_BUSY_TIMEOUT = 15.0
# Statements that run without the write lock: reads, and explicit transaction control (code that says
# BEGIN itself chose its own kind). Anything else (INSERT, UPDATE, DELETE, SAVEPOINT, DDL, a WITH that
# may write) first takes the write lock.
NO_LOCK_PREFIXES = ("SELECT", "PRAGMA", "EXPLAIN", "BEGIN", "COMMIT", "END", "ROLLBACK")


def create_private_sqlite_file(url: str) -> None:
    """Create the SQLite file of ``url`` with mode 0600 if it is missing, before SQLite creates it world-readable.

    Nothing happens for other databases, in-memory ones, or when the folder does not exist (the app then
    reports the database as unreachable, as before).
    """
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir() and not path.exists():
        with contextlib.suppress(FileExistsError):  # another process created it meanwhile
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def configure_sqlite(engine: Engine, busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
                     before_first_connection: Callable[[], None] | None = None) -> bool:
    """Install the PRAGMAs and ``BEGIN IMMEDIATE`` on ``engine`` if it is SQLite; return whether it was.

    Before each new connection the file is created with mode 0600 if it is missing, and
    ``before_first_connection`` runs (it may run again; it must do its work once).
    """
    if engine.dialect.name != "sqlite":
        return False
    timeout_ms = int(busy_timeout * 1000)
    url = engine.url.render_as_string(hide_password=False)

    def before_connect(*_args: Any) -> None:
        if before_first_connection is not None:
            before_first_connection()
        create_private_sqlite_file(url)  # None = go on and connect as usual

    event.listen(engine, "do_connect", before_connect)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # No transaction is open yet (isolation_level None = the driver never BEGINs by itself), which
        # journal_mode and foreign_keys need: inside a transaction they are silently ignored.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")  # first: the WAL switch may wait for a lock
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    def begin_before_write(cursor: Any, statement: str, *args: Any) -> bool:
        # A dialect hook, so it runs after every "before_cursor_execute" listener, right before the
        # statement itself: the lock is taken as late as possible. False = execute as usual.
        dbapi_connection = cursor.connection
        if not dbapi_connection.in_transaction and not statement.lstrip().upper().startswith(NO_LOCK_PREFIXES):
            # A savepoint outside a transaction would start one whose RELEASE commits everything:
            # SAVEPOINT is not in NO_LOCK_PREFIXES, so the real transaction is begun first.
            dbapi_connection.execute("BEGIN IMMEDIATE")
        return False

    event.listen(engine, "connect", on_connect)
    for hook in ("do_execute", "do_executemany", "do_execute_no_params"):
        event.listen(engine, hook, begin_before_write)
    return True


# The databases the app runs on, each with its own INSERT ... ON CONFLICT construct.
_DIALECT_INSERTS = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}


def dialect_insert(session: Session) -> Any:
    """The ``insert`` of the session's database dialect, which offers ON CONFLICT (DO NOTHING or DO UPDATE)."""
    return _DIALECT_INSERTS[session.get_bind().dialect.name]
