"""The CSV export's fast path: the same file as ``app/export.py``'s reference, byte for byte, in a third of the time.

A row costs this path about 55 µs including the fetch, the reference (``write_csv(fetch_rows(...))``:
SQLAlchemy's typed rows, then one ``Column`` callable and one ``cell()`` per cell) about 130 µs. A long export's
rows past its first batches are written by helper processes with this same ``_Lines`` (``app/export_parallel.py``),
so a million rows take well under a minute on two cores. What this path does differently, and why each is still
exact:

- Rows are fetched through Core with every column coerced to a type without result processing, so the driver's
  values arrive as they are. What the processors did is done here once per value with the same functions:
  ``datetime.fromisoformat`` for SQLite's timestamp text (what SQLAlchemy's SQLite dialect uses), UTC as
  ``UTCDateTime`` does, and for the encrypted contact details a decryptor per column from the app's keyring
  (``Keyring.decryptor``: the column's own purpose, the key named in each ciphertext, so values under older
  keys still read) and the column type's own ``from_text``.
- The database picks the answers out of the stored JSON (one array of values in question order) and the three
  rule-id lists out of the assessment (one array), so Python decodes a short keyless array instead of the
  whole answers object, and each distinct rule-list triple once.
- Each answer's two cells are a table lookup of ready-made CSV text: the tables map every stored value to its
  (code cell, label cell) written by csv, made from the question definitions by the reference's own
  functions (``answer_code``, ``answer_label``, ``cell``). Multiple-choice answers are added as they are met,
  per export and bounded, so memory stays flat. Anything a table does not hold goes through those functions.
- The row's other ~30 cells go through one ``csv.writer.writerow``; the answer and rule-list text is spliced in.

The batches are still the reference's keyset pages (``export_statement``), each read to the end before
anything is sent, so on SQLite no cursor holds a lock while the file streams.
"""


from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Select, Text, cast, column, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from app import contact, export, export_parallel
from app.crypto import keyring
from app.export import _CSV_SELECTED, _FORMULA_FIRST, BOM, answer_code, answer_label, cell
from app.models import ConsultationRequest, Screening
from app.screening.questions import QUESTIONS, Kind, Question

CACHE_LIMIT = 4096  # entries per cache (multiple-choice pairs, rule-id lists): bounds memory on odd data


def _raw(expression: Any, key: str) -> Any:
    """``expression`` labelled ``key``, read without SQLAlchemy's per-value result processing."""
    return type_coerce(expression, NullType()).label(key)


_RULE_KEYS = ("reasons", "unmet", "cautions")


def _rule_lists(dialect: str) -> Any:
    """The stored assessment's three rule-id lists as the JSON text of one array, ``[reasons, unmet, cautions]``.

    The reference reads each list with its own JSON path, so SQLite parses the ~2 KB assessment three times a
    row; here once (about 2.5 µs a row). On PostgreSQL as text too, so its driver does not decode each value:
    there are few distinct lists, and each is decoded once (``_Lines._rules``). A missing list is null, as there.
    """
    if dialect == "sqlite":
        return func.json_extract(Screening.assessment, *(f'$."{key}"' for key in _RULE_KEYS))
    if dialect == "postgresql":
        # Each -> on a json column parses the whole text again; json_to_record parses it once for all three
        # (the server's cost of the lists: ~17.5 -> ~8.7 µs a row). A correlated subquery, so the queue's
        # FROM clause is left as it is.
        record = func.json_to_record(Screening.assessment).table_valued(
            *(column(key, JSON) for key in _RULE_KEYS)).render_derived(name="rule_lists", with_types=True)
        return select(cast(func.json_build_array(*(record.c[key] for key in _RULE_KEYS)), Text)).scalar_subquery()
    raise ValueError(f"no fast CSV export for {dialect}")


def _answer_values(dialect: str) -> Any:
    """The stored answers as JSON text: on SQLite one array of values in question order (null when not
    answered), on PostgreSQL the stored object itself.

    Decoding the answers object was the largest single cost of a row (~10 µs for ~650 bytes in Python). SQLite
    picks the values out in C for about 2.5 µs, and the keyless array left to decode is half the size. On
    PostgreSQL each ``->`` on a json column parses the whole text again (22 of them cost the server ~60 µs a
    row), so there the object is read as text and decoded here, once.
    """
    if dialect == "sqlite":
        return func.json_extract(Screening.answers, *(f'$."{question.field}"' for question in QUESTIONS))
    if dialect == "postgresql":
        return cast(Screening.answers, Text)
    raise ValueError(f"no fast CSV export for {dialect}")


DIALECTS = ("sqlite", "postgresql")  # the databases the app runs on; anything else uses the reference path


def _raw_selected(dialect: str) -> tuple[Any, ...]:
    """The export's columns (the reference's ``_CSV_SELECTED``, same order, rule lists as one), read raw."""
    return (*(_raw(_answer_values(dialect), "answers") if column is Screening.answers else _raw(column, column.key)
              for column in _CSV_SELECTED[:-3]), _raw(_rule_lists(dialect), "rules"))


_SELECTED = {dialect: _raw_selected(dialect) for dialect in DIALECTS}
_KEYS = (*(column.key for column in _CSV_SELECTED[:-3]), "rules")
assert _KEYS == (  # noqa: S101 - the row unpacking in ``_Lines.line`` and ``_batches`` relies on this order
    "reference", "status", "outcome", "category", "score", "cook_score", "rule_version", "created_at", "updated_at",
    "scheduled_for", "assignee", "duplicate_of", "first_name", "last_name", "date_of_birth", "phone", "email",
    "preferred_contact", "best_time", "preferred_language", "screen_language", "insurance", "message",
    "consent_contact", "answers", "category_rank", "id", "rules")
assert tuple(column.key for column in _CSV_SELECTED[-3:]) == _RULE_KEYS  # noqa: S101


def _moment(value: Any) -> datetime | None:
    """A stored timestamp as ``UTCDateTime`` reads it: aware, in UTC (SQLite hands over text, PostgreSQL a datetime)."""
    if type(value) is str:
        try:  # SQLite's stored text is naive UTC; parsed with its zone in one C call (``replace`` costs 5 times more)
            return _fromisoformat(value + "+00:00")
        except ValueError:  # text that carries its own offset, or is not a timestamp: the reference's way below
            value = _fromisoformat(value)  # what SQLAlchemy's SQLite DATETIME does with its stored text
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_fromisoformat = datetime.fromisoformat


def _json(value: Any) -> Any:
    """A JSON value read as text (both databases, see above); one a driver has decoded already is used as is."""
    return json.loads(value) if type(value) is str else value


class _Segments:
    """Cells written as CSV text once, to be spliced into many lines.

    csv quotes each field on its own (only a row of one empty field is special, and segments are never
    written alone), so the text of a run of cells is the same wherever it appears in a line.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.writer = csv.writer(self)

    def write(self, line: str) -> None:
        """Where csv.writer hands over each line."""
        self.lines.append(line)

    def encode(self, cells: Sequence[object]) -> str:
        """``cells`` as CSV, each preceded by its comma: ``,a,"b, c"``."""
        self.writer.writerow(["", *cells])
        return self.lines.pop()[:-2]  # without the line terminator, "\r\n"


class _Lines:
    """Turns raw rows (in ``_KEYS`` order) into CSV lines; its caches live as long as one export."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        ring = keyring()
        # One decryptor per encrypted column, bound to that column's purpose (as its column type reads it).
        self.decryptors = {name: ring.decryptor(getattr(ConsultationRequest, name).type.purpose)
                           for name in ("first_name", "last_name", "date_of_birth", "phone", "email", "message")}
        self.birth_date_from_text: Callable[[str], date] = ConsultationRequest.date_of_birth.type.from_text
        self.segments = _Segments()
        self.choices = {name: {option.code: (cell(option.code), cell(contact.label(name, option.code)))
                               for option in options} for name, options in contact.CHOICES.items()}
        self.choice_tables = tuple(self.choices[name] for name in (
            "preferred_contact", "best_time", "preferred_language", "insurance"))  # the order ``line`` reads them
        # One entry per question, in question order: the columns come from the one definition of the questions.
        self.answers = [(self._answer_table(question), _KINDS.get(question.kind, _CODE), question)
                        for question in QUESTIONS]
        self.fields = [question.field for question in QUESTIONS]
        self.unanswered = (None,) * len(QUESTIONS)  # the answers of a screening whose answers are NULL
        self.rule_ids: dict[str | None, str] = {}
        # The row's own cells go through csv.writer, which hands each line to ``self.lines.append``.
        self.lines: list[str] = []
        self.write = self.lines.append
        self.writer = csv.writer(self)

    def _answer_segment(self, question: Question, value: Any) -> str:
        """An answer's two cells as CSV text, by the reference's own functions."""
        return self.segments.encode((cell(answer_code(question, value)), cell(answer_label(question, value))))

    def _answer_table(self, question: Question) -> dict[Any, str]:
        """Stored value -> CSV text of its two cells, for every answer ``question`` can have (multiple choice:
        filled as met). Single choice and yes/no are keyed by code: no stored value of another type compares
        equal to a str, or to None. Integers and lists are checked first (``_checked_segment``)."""
        if question.kind is Kind.MULTI:
            return {}
        if question.kind is Kind.INTEGER:
            low, high = question.minimum or 0, question.maximum or 0
            return {number: self._answer_segment(question, number) for number in range(low, high + 1)}
        codes = (None, *(option.code for option in question.options))
        return {code: self._answer_segment(question, code) for code in codes}

    def _checked_segment(self, question: Question, table: dict[Any, str], value: Any) -> str:
        """The segment of an answer to an integer or multiple-choice question, or of a value no table holds.

        Only ints and tuples of str are looked up or kept: ``True == 1`` and ``(1,) == (True,)`` as dict keys.
        """
        if question.kind is Kind.INTEGER:
            segment = table.get(value) if type(value) is int else None
            return segment if segment is not None else self._answer_segment(question, value)
        if question.kind is Kind.MULTI and type(value) is list:
            key = tuple(value)
            if all(type(code) is str for code in key):
                segment = table.get(key)
                if segment is None:
                    segment = self._answer_segment(question, value)
                    if len(table) < CACHE_LIMIT:
                        table[key] = segment
                return segment
        return self._answer_segment(question, value)

    def names(self) -> list[str]:
        """The header this class writes, column by column (checked against the reference's header)."""
        names = ["reference", "status", "outcome", "category", "score", "cook_score", "rule_version", "created_at",
                 "created_at_local", "updated_at", "scheduled_for", "scheduled_for_local", "assignee", "duplicate_of",
                 "first_name", "last_name", "date_of_birth", "phone", "email"]
        for name in contact.CHOICES:
            names += [name, f"{name}_label"]
        names += ["message", "consent_contact", "screen_language"]
        for _, _, question in self.answers:
            names += [question.field, f"{question.field}_label"]
        return [*names, "reasons", "unmet", "cautions"]

    def _choice(self, name: str, value: Any) -> tuple[object, object]:
        """A contact choice's two cells; a code the table does not know is written as the reference writes it."""
        pair = self.choices[name].get(value) if type(value) is str else None
        return pair if pair is not None else (cell(value), cell(contact.label(name, value)))

    def _rules(self, text: str | None) -> str:
        """The segment of the three rule-id lists, from their JSON text; few distinct ones exist, each decoded once."""
        segment = self.rule_ids.get(text)
        if segment is None:
            lists = _json(text) or (None,) * len(_RULE_KEYS)  # SQL NULL: no assessment, every list blank
            segment = self.segments.encode([cell(";".join(ids or ())) for ids in lists])
            if len(self.rule_ids) < CACHE_LIMIT:
                self.rule_ids[text] = segment
        return segment

    def line(self, raw: Sequence[Any]) -> str:
        """One CSV line (with its CRLF) from one raw row, exactly as the reference writes it."""
        (reference, status, outcome, category, score, cook_score, rule_version, created_at, updated_at,
         scheduled_for, assignee, duplicate_of, first_name, last_name, date_of_birth, phone, email,
         preferred_contact, best_time, preferred_language, screen_language, insurance, message,
         consent_contact, answers, _rank, _id, rules) = raw
        tz = self.tz
        decrypt = self.decryptors
        contact_by, time_by, language_by, insurance_by = self.choice_tables
        created, updated, scheduled = _moment(created_at), _moment(updated_at), _moment(scheduled_for)
        # Decrypted values are str: neutralised inline (``cell`` does the same; the call is most of its cost).
        first_name = "" if first_name is None else decrypt["first_name"](first_name)
        last_name = "" if last_name is None else decrypt["last_name"](last_name)
        phone = "" if phone is None else decrypt["phone"](phone)
        email = "" if email is None else decrypt["email"](email)
        message = "" if message is None else decrypt["message"](message)
        self.writer.writerow((
            cell(reference), cell(status), cell(outcome), cell(category), cell(score), cell(cook_score),
            cell(rule_version),
            created.isoformat("T", "seconds") if created else "",
            created.astimezone(tz).isoformat("T", "seconds") if created else "",
            updated.isoformat("T", "seconds") if updated else "",
            scheduled.isoformat("T", "seconds") if scheduled else "",
            scheduled.astimezone(tz).isoformat("T", "seconds") if scheduled else "",
            cell(assignee), cell(duplicate_of),
            "'" + first_name if first_name[:1] in _FORMULA_FIRST else first_name,
            "'" + last_name if last_name[:1] in _FORMULA_FIRST else last_name,
            # cell() writes a date as its isoformat, which starts with a digit
            "" if date_of_birth is None else self.birth_date_from_text(decrypt["date_of_birth"](date_of_birth)
                                                                       ).isoformat(),
            "'" + phone if phone[:1] in _FORMULA_FIRST else phone,
            "'" + email if email[:1] in _FORMULA_FIRST else email,
            *(contact_by.get(preferred_contact) or self._choice("preferred_contact", preferred_contact)),
            *(time_by.get(best_time) or self._choice("best_time", best_time)),
            *(language_by.get(preferred_language) or self._choice("preferred_language", preferred_language)),
            *(insurance_by.get(insurance) or self._choice("insurance", insurance)),
            "'" + message if message[:1] in _FORMULA_FIRST else message,
            "" if consent_contact is None else ("yes" if consent_contact else "no"),  # SQLite's 0/1 or a bool
            cell(screen_language),
        ))
        parts = [self.lines.pop()[:-2]]  # the row's own cells, without their CRLF
        append = parts.append
        values = _json(answers) or self.unanswered
        if type(values) is dict:  # the stored object (PostgreSQL): its values in question order
            values = [values.get(field) for field in self.fields]
        for value, (table, kind, question) in zip(values, self.answers, strict=True):
            try:
                if kind is _CODE:
                    append(table[value])
                    continue
                # A hit is exact: only ints are looked up in an integer table, and a multiple-choice table holds
                # only tuples of str, which no tuple holding another type equals.
                if kind is _INTEGER and type(value) is int:
                    append(table[value])
                    continue
                if kind is _MULTI and type(value) is list:
                    append(table[tuple(value)])
                    continue
            except (KeyError, TypeError):  # not in the table (yet), or unhashable: the careful way below
                pass
            append(self._checked_segment(question, table, value))
        append(self._rules(rules))
        append("\r\n")
        return "".join(parts)


# How each question's table is looked up (``_Lines.line``): plain local names, not enum attribute lookups.
_CODE, _INTEGER, _MULTI = "code", "integer", "multi"
_KINDS = {Kind.INTEGER: _INTEGER, Kind.MULTI: _MULTI}


def _key(raw: Sequence[Any]) -> dict[str, Any]:
    """A raw row's keyset values as the typed statement binds them (created_at parsed as the reference does)."""
    return {"category_rank": raw[25], "created_at": _moment(raw[7]), "id": raw[26]}


def _batches(session: Session, queue_query: Select[tuple[ConsultationRequest]],
             limit: int | None = None) -> Iterator[list[Any]]:
    """Raw rows in keyset batches of ``export.FETCH_BATCH``, each read whole, the next one while this one is written.

    At most ``limit`` batches when given.

    Each batch is read on a pooled connection of its own in one helper thread: the drivers let go of the GIL
    while the database works (SQLite's steps, PostgreSQL's round trip), so on a second core the next batch is
    read while the caller writes this one. As in the reference, no cursor stays open between batches, and
    reads run outside a transaction on SQLite (app/database.py), so writers are never held up by the export.
    At most two batches are in memory, this one and the next.
    """
    engine = session.get_bind()
    selected = _SELECTED[engine.dialect.name]

    def read(after: dict[str, Any] | None) -> list[Any]:
        with engine.connect() as connection:  # Core: plain rows, no ORM loading
            return list(connection.execute(export.export_statement(queue_query, after, selected)).all())

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-export") as reader:
        upcoming: Future[list[Any]] | None = reader.submit(read, None)
        read_batches = 1
        while upcoming is not None:
            batch = upcoming.result()
            upcoming = None
            if len(batch) == export.FETCH_BATCH and (limit is None or read_batches < limit):
                upcoming = reader.submit(read, _key(batch[-1]))
                read_batches += 1
            if batch:
                yield batch
        # Leaving early (the download was abandoned): the executor waits for the batch being read, then stops.


def stream_csv_fast(session: Session, queue_query: Select[tuple[ConsultationRequest]], tz: ZoneInfo,
                    processes: int = 0) -> Iterator[str]:
    """The CSV of everything ``queue_query`` matches: the reference's file, in the same chunks.

    The BOM and header first, then ``export.FLUSH_ROWS`` rows a chunk. With ``processes`` > 0, whatever is left
    after ``export_parallel.PARALLEL_AFTER`` batches is written by that many helper processes
    (``app/export_parallel.py``).
    """
    parallel = processes > 0 and export_parallel.can_run(session.get_bind())
    limit = export_parallel.PARALLEL_AFTER if parallel else None
    lines = _Lines(tz)
    header = [column.name for column in export.columns(tz)]
    if lines.names() != header:  # the reference's columns are the definition; never write a shifted file
        raise RuntimeError("the fast CSV export's columns differ from app/export.py's columns()")
    buffer = io.StringIO()
    csv.writer(buffer).writerow(header)
    yield BOM + buffer.getvalue()
    line, flush_rows = lines.line, export.FLUSH_ROWS
    pending: list[str] = []
    batches, batch = 0, []
    for batch in _batches(session, queue_query, limit):
        batches += 1
        for raw in batch:
            pending.append(line(raw))
            if len(pending) == flush_rows:
                yield "".join(pending)
                pending = []
    if pending:
        yield "".join(pending)
    if batches == limit and len(batch) == export.FETCH_BATCH:  # stopped early, and more rows may follow
        yield from export_parallel.chunks(session, queue_query, _key(batch[-1]), tz, processes)
