"""CSV export of consultation requests. No Flask import.

One row per request. The answer columns are generated from the one definition of the questions: every
question gets a code column (what is stored, joins back to the codebook) and a label column (what the
patient read). Rows are read in batches and written as they arrive, so memory stays flat however many
requests match.

The batches are keyset pages of the queue's own select, each read to the end before anything is sent,
rather than one long cursor (``yield_per``): on SQLite an open cursor holds a shared lock, so every write
(a patient sending a request, a colleague saving a change) would wait for the slowest download and then
fail with "database is locked".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import Session, aliased

from app import contact
from app.models import ConsultationRequest, Screening, StaffUser
from app.queue import QueueFilters
from app.screening.questions import BY_FIELD, QUESTIONS, Kind, Question

FETCH_BATCH = 1000  # rows per query; at most one batch is held in memory
FLUSH_ROWS = 200  # rows per chunk handed to the server: small chunks, few writes
# Excel opens a CSV without a byte-order mark in the PC's legacy code page, which turns "García" into
# "GarcÃ­a". The BOM makes it read UTF-8; other spreadsheets and Python's "utf-8-sig" skip it.
BOM = "\ufeff"
# A cell starting with one of these is run as a formula by spreadsheets (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Row = Mapping[str, Any]  # one result row of ``export_statement``, by column label


@dataclass(frozen=True)
class Column:
    """One CSV column: its header and how to read its value from a row."""

    name: str
    value: Callable[[Row], object]


_FORMULA_FIRST = frozenset(FORMULA_PREFIXES)  # each prefix is one character: a set lookup on the first one


def neutralise(text: str) -> str:
    """``text`` with a leading single quote when a spreadsheet would otherwise run it as a formula."""
    return "'" + text if text[:1] in _FORMULA_FIRST else text


def cell(value: object) -> object:
    """A value as written to the file: blanks for None, yes/no for booleans, every string neutralised.

    Every string goes through ``neutralise``, not only the free-text fields: codes, labels and dates never
    start with a formula character, so this costs nothing there and cannot be forgotten for a new column.
    Strings first: they are most of the ~80 cells of each of possibly a million rows.
    """
    if type(value) is str:
        return "'" + value if value[:1] in _FORMULA_FIRST else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    return value


def answer_code(question: Question, value: Any) -> object:
    """The stored answer: a code, a number, or codes joined with ';' for multiple choice."""
    if value is None:
        return None
    if question.kind is Kind.MULTI:
        return ";".join(str(code) for code in value)
    return value


def answer_label(question: Question, value: Any) -> str | None:
    """The answer in the words the patient chose, joined with '; ' for multiple choice."""
    if value is None:
        return None
    if question.kind is Kind.MULTI:
        return "; ".join(question.label_for(str(code)) for code in value)
    if question.kind is Kind.INTEGER:
        return str(value)
    return _labels(question.field).get(str(value), str(value))


@cache
def _labels(field: str) -> dict[str, str]:
    """Code -> label of one question (``Question.label_for`` as a dict: the export looks up ~20 a row)."""
    return {option.code: option.label for option in BY_FIELD[field].options}


def _utc(name: str) -> Callable[[Row], object]:
    def read(row: Row) -> object:
        moment = row[name]
        return moment.isoformat(timespec="seconds") if moment else None

    return read


def _local(name: str, tz: ZoneInfo) -> Callable[[Row], object]:
    def read(row: Row) -> object:
        moment = row[name]
        return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None

    return read


def _field(name: str) -> Callable[[Row], object]:
    return lambda row: row[name]


def _choice_label(name: str) -> Callable[[Row], object]:
    return lambda row: contact.label(name, row[name])


def _answer(question: Question, reader: Callable[[Question, Any], object]) -> Callable[[Row], object]:
    field = question.field
    return lambda row: reader(question, (row["answers"] or {}).get(field))


def _rule_ids(key: str) -> Callable[[Row], object]:
    return lambda row: ";".join(row[key] or ())  # the list alone, read from the assessment in SQL


def columns(tz: ZoneInfo) -> tuple[Column, ...]:
    """Every column, in file order; local times are in ``tz`` (the clinic's time zone)."""
    request = [Column(name, _field(name)) for name in (
        "reference", "status", "outcome", "category", "score", "cook_score", "rule_version")]
    times = [
        Column("created_at", _utc("created_at")),
        Column("created_at_local", _local("created_at", tz)),
        Column("updated_at", _utc("updated_at")),
        Column("scheduled_for", _utc("scheduled_for")),
        Column("scheduled_for_local", _local("scheduled_for", tz)),  # appointments are read in clinic time
        Column("assignee", _field("assignee")),
        Column("duplicate_of", _field("duplicate_of")),
    ]
    details: list[Column] = []
    for name in ("first_name", "last_name", "date_of_birth", "phone", "email", *contact.CHOICES,
                 "message", "consent_contact"):
        details.append(Column(name, _field(name)))
        if name in contact.CHOICES:
            details.append(Column(f"{name}_label", _choice_label(name)))
    details.append(Column("screen_language", _field("screen_language")))  # the language of the self-check
    answers = [column for question in QUESTIONS for column in (
        Column(question.field, _answer(question, answer_code)),
        Column(f"{question.field}_label", _answer(question, answer_label)),
    )]
    rules = [Column(key, _rule_ids(key)) for key in ("reasons", "unmet", "cautions")]
    return (*request, *times, *details, *answers, *rules)


_assignee = aliased(StaffUser)
_duplicate = aliased(ConsultationRequest)
# Queue order, and the keyset that pages through it: unique, and never changed once a request is stored.
_ORDER = (ConsultationRequest.category_rank, ConsultationRequest.created_at, ConsultationRequest.id)
_SELECTED = (
    ConsultationRequest.reference, ConsultationRequest.status, ConsultationRequest.outcome,
    ConsultationRequest.category, ConsultationRequest.score, Screening.cook_score, Screening.rule_version,
    ConsultationRequest.created_at, ConsultationRequest.updated_at, ConsultationRequest.scheduled_for,
    _assignee.name.label("assignee"), _duplicate.reference.label("duplicate_of"),
    ConsultationRequest.first_name, ConsultationRequest.last_name, ConsultationRequest.date_of_birth,
    ConsultationRequest.phone, ConsultationRequest.email, ConsultationRequest.preferred_contact,
    ConsultationRequest.best_time, ConsultationRequest.preferred_language, ConsultationRequest.screen_language,
    ConsultationRequest.insurance,
    ConsultationRequest.message, ConsultationRequest.consent_contact, Screening.answers, Screening.assessment,
    ConsultationRequest.category_rank, ConsultationRequest.id,
)


# The CSV needs only the rule ids of the stored assessment, not its texts (most of its ~2 KB): JSON paths
# read them in the database, so a million-row export does not parse a million assessments in Python.
_CSV_SELECTED = (
    *(column for column in _SELECTED if column is not Screening.assessment),
    *(Screening.assessment[key].label(key) for key in ("reasons", "unmet", "cautions")),
)


def export_statement(queue_query: Select[tuple[ConsultationRequest]], after: Row | None = None,
                     selected: tuple[Any, ...] = _SELECTED) -> Select[Any]:
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


def key_statement(queue_query: Select[tuple[ConsultationRequest]], after: Row | None = None) -> Select[Any]:
    """The next batch's keys only (the queue order's columns, id last): the same rows as ``export_statement``,
    read from the queue's indexes without touching the rows themselves (``app/export_parallel.py``)."""
    query = (queue_query.with_only_columns(*_ORDER, maintain_column_froms=False).select_from(ConsultationRequest)
             .order_by(None).order_by(*_ORDER))
    return _after(query, after).limit(FETCH_BATCH)


def _after(query: Select[Any], after: Row | None) -> Select[Any]:
    """``query`` from just after the row ``after`` in queue order (a keyset), or from the start."""
    if after is None:
        return query
    position = (literal(after[column.key], column.type) for column in _ORDER)
    return query.where(tuple_(*_ORDER) > tuple_(*position))


def fetch_rows(session: Session, queue_query: Select[tuple[ConsultationRequest]],
               selected: tuple[Any, ...] = _SELECTED) -> Iterator[Row]:
    """Every row the queue's select matches, one batch at a time; no cursor stays open between batches."""
    after: Row | None = None
    while True:
        # Plain dicts: each row is read ~80 times by the columns, and a dict lookup is the cheapest there is.
        batch = [dict(row._mapping) for row in session.execute(export_statement(queue_query, after, selected))]
        yield from batch
        if len(batch) < FETCH_BATCH:
            return
        after = batch[-1]


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def write_csv(rows: Iterable[Row], tz: ZoneInfo) -> Iterator[str]:
    """The file in chunks: BOM and header first, then ``FLUSH_ROWS`` rows at a time (RFC 4180, CRLF)."""
    cols = columns(tz)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.name for column in cols])
    yield BOM + _drain(buffer)
    for count, row in enumerate(rows, start=1):
        writer.writerow([cell(column.value(row)) for column in cols])
        if count % FLUSH_ROWS == 0:
            yield _drain(buffer)
    rest = _drain(buffer)
    if rest:
        yield rest


def stream_csv(session: Session, queue_query: Select[tuple[ConsultationRequest]], tz: ZoneInfo,
               processes: int = 0) -> Iterator[str]:
    """The CSV of everything ``queue_query`` matches, produced as it is read (nothing runs until iterated).

    Written by the fast path (``app/export_fast.py``); ``write_csv(fetch_rows(...))`` above is the readable
    reference it is tested against, byte for byte. ``processes``: helper processes for a long export's rows
    (``app/export_parallel.py``); 0 writes every row in this process.
    """
    from app.export_fast import DIALECTS, stream_csv_fast  # the fast path imports this module

    if session.get_bind().dialect.name not in DIALECTS:  # its SQL is written for the databases the app runs on
        return write_csv(fetch_rows(session, queue_query, _CSV_SELECTED), tz)
    return stream_csv_fast(session, queue_query, tz, processes)


def audit_detail(filters: QueueFilters) -> dict[str, object]:
    """What the export covered, for the audit log: codes and dates, and only *whether* a search was used.

    The search text itself is left out: it is often a patient's name or phone number.
    """
    return {
        "status": filters.status,
        "category": filters.category,
        "assignee": filters.assignee,
        "from": filters.submitted_from.isoformat() if filters.submitted_from else "",
        "to": filters.submitted_to.isoformat() if filters.submitted_to else "",
        "searched": bool(filters.q),
    }


def export_filename(now: datetime, tz: ZoneInfo) -> str:
    """A dated file name in clinic time, e.g. ``mild-requests-2026-11-24-0930.csv``."""
    return f"mild-requests-{now.astimezone(tz):%Y-%m-%d-%H%M}.csv"
