"""The CSV export's long tail written by helper processes, so a million-row export uses every core.

One sync worker runs Python on one core at a time (the GIL), and a row costs it about 56 µs on SQLite and
77 µs on PostgreSQL, reading included: a million rows took 73-143 s there, against a target of 60 s. Past
its first ``PARALLEL_AFTER`` batches (an export of a few thousand rows never gets here), ``stream_csv_fast``
hands the rest to this module, which splits the work like this:

- The serving worker reads only the next batch's keys (category rank, created at, id) with the queue's own
  filtered, ordered select (``export.key_statement``): an index-only read of about a millisecond a batch.
- A helper process, started fresh (``spawn``: nothing of the serving worker's state, locks or database
  connections is copied), reads those ids' rows with its own connection, in queue order, and writes their
  CSV lines with the very code the worker uses in process (``export_fast._Lines``), so the file is the same
  byte for byte (tested). It returns the text in the reference's chunks.
- The worker sends each batch's text in order while the helpers work on the next ones. At most
  ``2 * processes`` batches are in flight, so memory stays flat however long the export.

What a helper receives: the database URL, the keyring (the helper must decrypt, as the worker does) and the
clinic's time zone once, then lists of ids. All of it goes through the pipe ``multiprocessing`` sets up
between the two processes, never a file, the command line or the environment. Helpers live as long as the
export: an abandoned download cancels what has not started and stops them, and a helper whose worker was
killed (no chance to stop anything) notices within ``PARENT_CHECK_SECONDS`` and leaves.

``spawn`` starts each helper by importing the program's main module again under another name, as
``multiprocessing`` always does: gunicorn's, pytest's and flask's are import-safe; a script of one's own that
exports must keep its work under ``if __name__ == "__main__":``.

Rows are picked by id, batch by batch, as the export goes, so the export reads the queue as it is when each
batch is read, like the keyset batches of the reference: a request that leaves the filter in the seconds
between its key being read and its row being read is still exported once, with its new values.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from app import crypto, export
from app.crypto import Keyring
from app.database import configure_sqlite
from app.models import ConsultationRequest

if TYPE_CHECKING:
    from app.export_fast import _Lines

PARALLEL_AFTER = 20  # batches written in process first: small exports never pay for starting helpers (~1 s)
PARENT_CHECK_SECONDS = 1.0  # how often a helper checks that the serving worker that started it is still there


def can_run(engine: Engine) -> bool:
    """Whether helper processes can open the database ``engine`` reads: not an in-memory SQLite database."""
    return engine.dialect.name != "sqlite" or engine.url.database not in (None, "", ":memory:")


def chunks(session: Session, queue_query: Select[tuple[ConsultationRequest]], after: Mapping[str, Any],
           tz: ZoneInfo, processes: int) -> Iterator[str]:
    """The CSV text of every row after the row ``after`` (its keys), in queue order and the reference's chunks."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)  # noqa: S101 - the app's session is bound to one engine
    pool = ProcessPoolExecutor(
        max_workers=processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start_helper,
        initargs=(engine.url.render_as_string(hide_password=False), crypto.keyring(), tz.key, os.getpid()))
    in_flight: deque[Future[list[str]]] = deque()
    position: Mapping[str, Any] | None = after
    try:
        while True:
            while position is not None and len(in_flight) < 2 * processes:
                with engine.connect() as connection:  # short: no transaction is held while the file streams
                    keys = connection.execute(export.key_statement(queue_query, position)).all()
                if keys:
                    in_flight.append(pool.submit(_write_batch, [key.id for key in keys], export.FLUSH_ROWS))
                position = keys[-1]._mapping if len(keys) == export.FETCH_BATCH else None
            if not in_flight:
                return
            yield from in_flight.popleft().result()
    finally:
        # Finished, failed, or the download was abandoned: batches not started are dropped, helpers stop.
        pool.shutdown(wait=True, cancel_futures=True)


# In a helper process: its engine, line writer and selected columns, set once by ``_start_helper``.
_helper: tuple[Engine, _Lines, tuple[Any, ...]] | None = None


def _start_helper(url: str, keyring: Keyring, tz_key: str, parent: int) -> None:
    """A helper process's start: the keyring, a read-only use of the database, the line writer, and a watch on
    the serving worker ``parent``."""
    from app.export_fast import _SELECTED, _Lines  # imported here: export_fast imports this module

    global _helper  # one per helper process, like the app's own engine and keyring
    # A worker killed outright (gunicorn's timeout ends with SIGKILL) cannot stop its pool, and a helper
    # waiting for its next batch would wait forever holding its memory: it leaves when the worker is gone.
    threading.Thread(target=_exit_without, args=(parent,), name="export-parent-watch", daemon=True).start()
    crypto.configure(keyring)
    engine = create_engine(url, hide_parameters=True)  # never a bound value in an error message
    configure_sqlite(engine)  # the app's connection settings (busy timeout, WAL) when it is SQLite
    _helper = (engine, _Lines(ZoneInfo(tz_key)), _SELECTED[engine.dialect.name])


def _exit_without(parent: int) -> None:
    """End this helper process as soon as ``parent`` is no longer its parent (it died; the helper was adopted)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)  # no cleanup to run: the helper holds nothing but a read connection


def _write_batch(ids: list[int], flush_rows: int) -> list[str]:
    """The CSV lines of the requests ``ids`` in queue order, joined ``flush_rows`` rows a chunk."""
    assert _helper is not None  # noqa: S101 - set by the pool's initializer before any task runs
    engine, lines, selected = _helper
    by_id = select(ConsultationRequest).where(ConsultationRequest.id.in_(ids))
    statement = export.export_statement(by_id, None, selected).limit(len(ids))
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    line = lines.line
    return ["".join(line(row) for row in rows[start:start + flush_rows]) for start in range(0, len(rows), flush_rows)]
