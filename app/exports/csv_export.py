"""The CSV export of consultation requests: the staff console's streamed download and ``flask export requests``.

One path for both: the queue's select read in keyset batches (app/exports/rows.py), each row written as one
line (app/exports/csv_lines.py), handed on in chunks as it is read, so memory stays flat however many requests
match.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.exports import rows
from app.exports.csv_lines import BOM, RAW_SELECTED, Lines, keyset_of
from app.models import ConsultationRequest


def _batches(session: Session, queue_query: Select[tuple[ConsultationRequest]]) -> Iterator[list[Any]]:
    """Raw rows in keyset batches of ``FETCH_BATCH``, each read whole, the next one while this one is written.

    Each batch is read on a pooled connection of its own in one helper thread: the drivers let go of the GIL
    while the database works (SQLite's steps, PostgreSQL's round trip), so on a second core the next batch is
    read while the caller writes this one. No cursor stays open between batches, and reads run outside a
    transaction on SQLite (app/platform/database.py), so writers are never held up by the export. At most two
    batches are in memory, this one and the next.
    """
    engine = session.get_bind()
    selected = RAW_SELECTED[engine.dialect.name]

    def read(after: dict[str, Any] | None) -> list[Any]:
        with engine.connect() as connection:  # Core: plain rows, no ORM loading
            return list(connection.execute(rows.export_statement(queue_query, after, selected)).all())

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-export") as reader:
        upcoming: Future[list[Any]] | None = reader.submit(read, None)
        while upcoming is not None:
            batch = upcoming.result()
            upcoming = reader.submit(read, keyset_of(batch[-1])) if len(batch) == rows.FETCH_BATCH else None
            if batch:
                yield batch
        # Leaving early (the download was abandoned): the executor waits for the batch being read, then stops.


def stream_csv(session: Session, queue_query: Select[tuple[ConsultationRequest]], tz: ZoneInfo) -> Iterator[str]:
    """The CSV of everything ``queue_query`` matches, produced as it is read (nothing runs until iterated).

    The BOM and header first, then ``FLUSH_ROWS`` rows a chunk (RFC 4180, CRLF).
    """
    lines = Lines(tz)
    buffer = io.StringIO()
    csv.writer(buffer).writerow(lines.names())
    yield BOM + buffer.getvalue()
    line = lines.line
    pending: list[str] = []
    for batch in _batches(session, queue_query):
        for raw in batch:
            pending.append(line(raw))
            if len(pending) == rows.FLUSH_ROWS:
                yield "".join(pending)
                pending = []
    if pending:
        yield "".join(pending)


def export_filename(now: datetime, tz: ZoneInfo) -> str:
    """A dated file name in clinic time, e.g. ``mild-requests-2026-11-24-0930.csv``."""
    return f"mild-requests-{now.astimezone(tz):%Y-%m-%d-%H%M}.csv"
