"""FHIR Bundle downloads of consultation requests: read like the CSV export, written as JSON.

Rows come from the CSV export's own statement (app/exports/rows.py: the queue's select, same filters and order,
read in keyset batches so no cursor holds a lock between them), plus when the screening was completed. The
queue's Bundle is written as it is read: the opening, then one request's entries at a time, then the close,
so memory stays flat however many requests match.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.exports import rows
from app.exports.fhir_bundle import bundle_header, request_entries
from app.exports.rows import SELECTED, Row
from app.intake.documents import documents_of
from app.models import ConsultationRequest, Screening

# The CSV export's columns, and when the screening was completed.
_SELECTED = (*SELECTED, Screening.created_at.label("screened_at"))


def fetch_rows(session: Session, queue_query: Select[tuple[ConsultationRequest]]) -> Iterator[Row]:
    """Every row ``queue_query`` matches, one batch at a time, with ``screened_at`` added."""
    return rows.fetch_rows(session, queue_query, _SELECTED)


def request_row(session: Session, request_id: int) -> Row:
    """The row of one request."""
    return next(fetch_rows(session, select(ConsultationRequest).where(ConsultationRequest.id == request_id)))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def stream_bundle(session: Session, queue_query: Select[tuple[ConsultationRequest]], base_url: str,
                  now: datetime, document_url: Callable[[str, int], str]) -> Iterator[str]:
    """The Bundle of everything ``queue_query`` matches, as JSON text in chunks (nothing runs until iterated).

    Each document a patient sent is a DocumentReference linking to it (``document_url(reference, id)``), not
    carrying it: the one-request download carries the files.
    """
    header = _dumps(bundle_header(now))
    yield header[:-1] + ',"entry":['
    chunk: list[str] = []
    first = True
    for count, row in enumerate(fetch_rows(session, queue_query), start=1):
        documents = documents_of(session, row["id"]) if row["documents"] else ()
        for entry in request_entries(row, base_url, documents, document_url):
            chunk.append(("" if first else ",") + _dumps(entry))
            first = False
        if count % rows.FLUSH_ROWS == 0:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk) + "]}"


def bundle_filename(now: datetime, tz: ZoneInfo, reference: str | None = None) -> str:
    """``mild-requests-2026-11-24-0930.fhir.json``, or ``mild-request-K7QM-4HXT.fhir.json`` for one request."""
    if reference:
        return f"mild-request-{reference}.fhir.json"
    return f"mild-requests-{now.astimezone(tz):%Y-%m-%d-%H%M}.fhir.json"
