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
  cut (WAL's usual NORMAL may lose the last commits). Every write transaction gets it, set again as it
  begins, so a new write path cannot forget it; the one exception, asked for by name, is a questionnaire
  page's draft save (``draft_save_durability`` argues why).
- ``foreign_keys=ON``: SQLite enforces the schema's foreign keys only when asked, per connection.
  Except while Alembic migrates: batch mode changes a table by copying it and dropping the original,
  and with foreign keys on, dropping a table that other rows refer to (a request with its timeline)
  fails. SQLite's own procedure for schema changes turns them off first; the connection gets them back
  when it returns to the pool.

No Flask import.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

# Seconds a worker waits for the write lock. Long enough to queue behind a burst of submissions and a
# ``keys rotate`` batch; short enough to fail well inside gunicorn's worker timeout (30 s).
DEFAULT_BUSY_TIMEOUT = 15.0
# Statements that run without the write lock: reads, and explicit transaction control (code that says
# BEGIN itself chose its own kind). Anything else (INSERT, UPDATE, DELETE, SAVEPOINT, DDL, a WITH that
# may write) first takes the write lock.
NO_LOCK_PREFIXES = ("SELECT", "PRAGMA", "EXPLAIN", "BEGIN", "COMMIT", "END", "ROLLBACK")
FOREIGN_KEYS_OFF = "foreign_keys_off_for_migration"
# Execution option (on the Session's connection, see ``draft_save_durability``) for a transaction that only
# saves a patient's draft: it commits with synchronous=NORMAL instead of FULL.
DRAFT_DURABILITY = "mild_draft_durability"


def draft_save_durability(session: Session) -> None:
    """Let this transaction of ``session`` (a questionnaire page's draft save, nothing else) skip the fsync.

    Why only drafts may: in WAL mode synchronous=NORMAL stays consistent and durable across a crash of the app
    or a worker; only a power cut or an operating-system crash can lose the last commits, and for a draft that
    is the answers to one page, which the patient gives again (the page comes back empty or the draft is
    gone: "session ended"). Nothing else of value is in such a transaction. A consultation request, its
    screening, the audit log, staff work and every other transaction keep synchronous=FULL: the reference a
    patient is shown must survive a power cut. Each write transaction states its own level when it begins,
    so a pooled connection never carries NORMAL into another transaction.

    Measured: FULL costs about 0.2 ms of fsync per commit here (more under disk load), and the write lock is
    held meanwhile, so the other worker waits; py-spy of a worker under wrk on the step POST: about a third of
    the request's time was the commit's fsync and waiting for the lock.

    Call before the session's first statement in the transaction (the option is set when the connection is
    taken); a no-op on PostgreSQL, whose durability the server decides.
    """
    session.connection(execution_options={DRAFT_DURABILITY: True})


@contextmanager
def draft_write_durability(dbapi_connection: Any) -> Iterator[None]:
    """``draft_save_durability`` for a draft save run on the driver (``app.driver_write``), outside the session.

    On SQLite: synchronous=NORMAL for the statement run inside, which is a transaction of its own (the
    connection is in autocommit), then FULL again, so the pooled connection never carries NORMAL into
    another transaction. Nothing on PostgreSQL.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        yield
        return
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        dbapi_connection.execute("PRAGMA synchronous = FULL")


def _alembic_is_migrating() -> bool:
    """Whether Alembic's env.py is running in this process (``flask db upgrade``/``downgrade``).

    ``alembic.context`` is a proxy that Alembic installs only while it runs env.py; Alembic has no public
    "migration starting" hook that reaches the connection env.py opens. tests/test_sqlite_settings.py
    upgrades a database holding linked rows, so a change here in a new Alembic fails a test.
    """
    from alembic import context

    return getattr(context, "_proxy", None) is not None


def configure_sqlite(engine: Engine, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> bool:
    """Install the PRAGMAs and ``BEGIN IMMEDIATE`` on ``engine`` if it is SQLite; return whether it was."""
    if engine.dialect.name != "sqlite":
        return False
    timeout_ms = int(busy_timeout * 1000)

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
            # Every write transaction sets its durability as it begins (the PRAGMA works outside a transaction,
            # which this still is): FULL unless it is a draft save (draft_save_durability says why).
            context = args[-1] if args else None  # the execution context is the hooks' last argument
            options = getattr(context, "execution_options", None) or {}
            dbapi_connection.execute(f"PRAGMA synchronous = {'NORMAL' if options.get(DRAFT_DURABILITY) else 'FULL'}")
            # A savepoint outside a transaction would start one whose RELEASE commits everything:
            # SAVEPOINT is not in NO_LOCK_PREFIXES, so the real transaction is begun first.
            dbapi_connection.execute("BEGIN IMMEDIATE")
        return False

    def off_while_migrating(connection: Connection) -> None:
        if _alembic_is_migrating():
            # On the driver connection, so SQLAlchemy does not begin a transaction Alembic would then
            # leave uncommitted; the PRAGMA works only outside a transaction, which this is.
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")
            connection.connection.info[FOREIGN_KEYS_OFF] = True

    def back_on(dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(FOREIGN_KEYS_OFF, False):
            dbapi_connection.execute("PRAGMA foreign_keys = ON")  # checked in: rolled back, no transaction

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "engine_connect", off_while_migrating)
    event.listen(engine, "checkin", back_on)
    for hook in ("do_execute", "do_executemany", "do_execute_no_params"):
        event.listen(engine, hook, begin_before_write)
    return True
