"""The export's rows: the queue's own select with the export's columns, read in keyset batches.

Shared by the CSV export and the FHIR Bundle download. The batches are keyset pages of the queue's select, each
read to the end before anything is sent, rather than one long cursor (``yield_per``): on SQLite an open cursor
holds a shared lock, so every write (a patient sending a request, a colleague saving a change) would wait for
the slowest download and then fail with "database is locked".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import Session, aliased

from app.casework.queue import QueueFilters
from app.models import ConsultationRequest, Screening, StaffUser

FETCH_BATCH = 1000  # rows per query; at most one batch is held in memory
FLUSH_ROWS = 200  # rows per chunk handed to the server: small chunks, few writes

Row = Mapping[str, Any]  # one result row of ``export_statement``, by column label


_assignee = aliased(StaffUser)
_duplicate = aliased(ConsultationRequest)
# Queue order, and the keyset that pages through it: unique, and never changed once a request is stored.
_ORDER = (ConsultationRequest.category_rank, ConsultationRequest.created_at, ConsultationRequest.id)
SELECTED = (
    ConsultationRequest.reference, ConsultationRequest.status, ConsultationRequest.outcome,
    ConsultationRequest.category, ConsultationRequest.score, Screening.cook_score, Screening.rule_version,
    ConsultationRequest.created_at, ConsultationRequest.updated_at, ConsultationRequest.scheduled_for,
    _assignee.name.label("assignee"), _duplicate.reference.label("duplicate_of"),
    ConsultationRequest.first_name, ConsultationRequest.last_name, ConsultationRequest.date_of_birth,
    ConsultationRequest.phone, ConsultationRequest.email, ConsultationRequest.preferred_contact,
    ConsultationRequest.best_time, ConsultationRequest.preferred_language, ConsultationRequest.screen_language,
    ConsultationRequest.insurance,
    ConsultationRequest.message, ConsultationRequest.consent_contact, ConsultationRequest.other_language,
    ConsultationRequest.voicemail, ConsultationRequest.proxy_name, ConsultationRequest.proxy_relationship,
    ConsultationRequest.document_count.label("documents"),
    Screening.answers, Screening.assessment,
    ConsultationRequest.category_rank, ConsultationRequest.id,
)


# The CSV needs only the rule ids of the stored assessment, not its texts (most of its ~2 KB): JSON paths
# read them in the database, so a million-row export does not parse a million assessments in Python.
CSV_SELECTED = (
    *(column for column in SELECTED if column is not Screening.assessment),
    *(Screening.assessment[key].label(key) for key in ("reasons", "unmet", "cautions")),
)


def export_statement(queue_query: Select[tuple[ConsultationRequest]], after: Row | None = None,
                     selected: tuple[Any, ...] = SELECTED) -> Select[Any]:
    """One batch: the queue's own select (same filters, same order) with the export's columns.

    Plain columns rather than ORM objects, so nothing accumulates in the session while the file streams.
    ``after`` is the last row of the previous batch.
    """
    query = (
        queue_query.with_only_columns(*selected, maintain_column_froms=False)
        .select_from(ConsultationRequest)
        .join(Screening, Screening.id == ConsultationRequest.screening_id)
        .outerjoin(_assignee, _assignee.id == ConsultationRequest.assignee_id)
        .outerjoin(_duplicate, _duplicate.id == ConsultationRequest.duplicate_of_id)
        .order_by(None).order_by(*_ORDER)  # the keyset below only works in exactly this order
    )
    return _after(query, after).limit(FETCH_BATCH)


def _after(query: Select[Any], after: Row | None) -> Select[Any]:
    """``query`` from just after the row ``after`` in queue order (a keyset), or from the start."""
    if after is None:
        return query
    position = (literal(after[column.key], column.type) for column in _ORDER)
    return query.where(tuple_(*_ORDER) > tuple_(*position))


def fetch_rows(session: Session, queue_query: Select[tuple[ConsultationRequest]],
               selected: tuple[Any, ...] = SELECTED) -> Iterator[Row]:
    """Every row the queue's select matches (``selected`` columns, by label), one batch at a time; no cursor
    stays open between batches."""
    after: Row | None = None
    while True:
        batch = [row._mapping for row in session.execute(export_statement(queue_query, after, selected))]
        yield from batch
        if len(batch) < FETCH_BATCH:
            return
        after = batch[-1]



def audit_detail(filters: QueueFilters) -> dict[str, object]:
    """What the export covered, for the audit log: codes and dates, and only *whether* a search was used.

    The search text itself is left out: it is often a patient's name or phone number.
    """
    return {
        "status": filters.status,
        "view": filters.view,
        "category": filters.category,
        "assignee": filters.assignee,
        "from": filters.submitted_from.isoformat() if filters.submitted_from else "",
        "to": filters.submitted_to.isoformat() if filters.submitted_to else "",
        "searched": bool(filters.q),
    }
