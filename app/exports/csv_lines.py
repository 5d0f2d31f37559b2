"""A consultation request as one CSV line: every column from the one definition of the questions.

Every question gets a code column (what is stored, joins back to the codebook) and a label column (what the
patient read). How a line is made, so that a million rows are written in well under a minute:

- Rows are fetched through Core with every column coerced to a type without result processing, so the driver's
  values arrive as they are, and each value is converted here once with the functions SQLAlchemy would use
  (``datetime.fromisoformat`` for SQLite's timestamp text, UTC as ``UTCDateTime`` does, and for the encrypted
  contact details a decryptor per column from the app's keyring, bound to that column's purpose).
- The database picks the answers out of the stored JSON and the three rule-id lists out of the assessment, so
  Python decodes a short keyless array instead of the whole answers object, and each distinct rule-list triple
  once.
- The label tables are built once per export: each answer's two cells are a lookup of ready-made CSV text,
  made from the question definitions by ``answer_code``, ``answer_label`` and ``cell``. Multiple-choice answers
  are added as they are met, bounded, so memory stays flat. Anything a table does not hold goes through those
  functions.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Text, cast, column, func, select, type_coerce
from sqlalchemy.types import NullType

from app.exports.rows import CSV_SELECTED
from app.intake import contact
from app.models import ConsultationRequest, Screening
from app.screening.questions import BY_FIELD, QUESTIONS, Kind, Question
from app.security.crypto import keyring

# Excel opens a CSV without a byte-order mark in the PC's legacy code page, which turns "García" into
# "GarcÃ­a". The BOM makes it read UTF-8; other spreadsheets and Python's "utf-8-sig" skip it.
BOM = "\ufeff"
# A cell starting with one of these is run as a formula by spreadsheets (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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



CACHE_LIMIT = 4096  # entries per cache (multiple-choice pairs, rule-id lists): bounds memory on odd data


def _raw(expression: Any, key: str) -> Any:
    """``expression`` labelled ``key``, read without SQLAlchemy's per-value result processing."""
    return type_coerce(expression, NullType()).label(key)


_RULE_KEYS = ("reasons", "unmet", "cautions")


def _rule_lists(dialect: str) -> Any:
    """The stored assessment's three rule-id lists as the JSON text of one array, ``[reasons, unmet, cautions]``.

    One JSON path for the three, so SQLite parses the assessment once a row. On PostgreSQL as text too, so its
    driver does not decode each value: there are few distinct lists, and each is decoded once
    (``Lines._rules``). A missing list is null.
    """
    if dialect == "sqlite":
        return func.json_extract(Screening.assessment, *(f'$."{key}"' for key in _RULE_KEYS))
    if dialect == "postgresql":
        # Each -> on a json column parses the whole text again; json_to_record parses it once for all three.
        # A correlated subquery, so the queue's FROM clause is left as it is.
        record = func.json_to_record(Screening.assessment).table_valued(
            *(column(key, JSON) for key in _RULE_KEYS)).render_derived(name="rule_lists", with_types=True)
        return select(cast(func.json_build_array(*(record.c[key] for key in _RULE_KEYS)), Text)).scalar_subquery()
    raise ValueError(f"no fast CSV export for {dialect}")


def _answer_values(dialect: str) -> Any:
    """The stored answers as JSON text: on SQLite one array of values in question order (null when not
    answered), on PostgreSQL the stored object itself.

    Decoding the answers object is the largest single cost of a row: SQLite picks the values out in C, and the
    keyless array left to decode is half the size. On PostgreSQL each ``->`` on a json column parses the whole
    text again, so there the object is read as text and decoded here, once.
    """
    if dialect == "sqlite":
        return func.json_extract(Screening.answers, *(f'$."{question.field}"' for question in QUESTIONS))
    if dialect == "postgresql":
        return cast(Screening.answers, Text)
    raise ValueError(f"no fast CSV export for {dialect}")


DIALECTS = ("sqlite", "postgresql")  # the databases the app runs on


def _raw_selected(dialect: str) -> tuple[Any, ...]:
    """The export's columns (``CSV_SELECTED``, same order, rule lists as one), read raw."""
    return (*(_raw(_answer_values(dialect), "answers") if column is Screening.answers else _raw(column, column.key)
              for column in CSV_SELECTED[:-3]), _raw(_rule_lists(dialect), "rules"))


RAW_SELECTED = {dialect: _raw_selected(dialect) for dialect in DIALECTS}
_KEYS = (*(column.key for column in CSV_SELECTED[:-3]), "rules")
assert _KEYS == (  # noqa: S101 - the row unpacking in ``Lines.line`` and ``_batches`` relies on this order
    "reference", "status", "outcome", "category", "score", "cook_score", "rule_version", "created_at", "updated_at",
    "scheduled_for", "assignee", "duplicate_of", "first_name", "last_name", "date_of_birth", "phone", "email",
    "preferred_contact", "best_time", "preferred_language", "screen_language", "insurance", "message",
    "consent_contact", "other_language", "voicemail", "proxy_name", "proxy_relationship", "documents", "answers",
    "category_rank", "id", "rules")
assert tuple(column.key for column in CSV_SELECTED[-3:]) == _RULE_KEYS  # noqa: S101


def _moment(value: Any) -> datetime | None:
    """A stored timestamp as ``UTCDateTime`` reads it: aware, in UTC (SQLite hands over text, PostgreSQL a datetime)."""
    if type(value) is str:
        try:  # SQLite's stored text is naive UTC; parsed with its zone in one C call, cheaper than ``replace``
            return _fromisoformat(value + "+00:00")
        except ValueError:  # text that carries its own offset: SQLAlchemy's SQLite DATETIME way below
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


class Lines:
    """Turns raw rows (in ``_KEYS`` order) into CSV lines; its caches live as long as one export."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        ring = keyring()
        # One decryptor per encrypted column, bound to that column's purpose (as its column type reads it).
        self.decryptors = {name: ring.decryptor(getattr(ConsultationRequest, name).type.purpose)
                           for name in ("first_name", "last_name", "date_of_birth", "phone", "email", "message",
                                        "other_language", "proxy_name", "proxy_relationship")}
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
        """An answer's two cells as CSV text (``answer_code``, ``answer_label``, ``cell``)."""
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
        """The header: the file's column names, in order."""
        names = ["reference", "status", "outcome", "category", "score", "cook_score", "rule_version", "created_at",
                 "created_at_local", "updated_at", "scheduled_for", "scheduled_for_local", "assignee", "duplicate_of",
                 "first_name", "last_name", "date_of_birth", "phone", "email"]
        for name in contact.CHOICES:
            names += [name, f"{name}_label"]
        names += ["message", "consent_contact", "screen_language", "other_language", "voicemail", "proxy_name",
                  "proxy_relationship", "documents"]
        for _, _, question in self.answers:
            names += [question.field, f"{question.field}_label"]
        return [*names, "reasons", "unmet", "cautions"]

    def _choice(self, name: str, value: Any) -> tuple[object, object]:
        """A contact choice's two cells; a code the table does not know is written as it is stored."""
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
        """One CSV line (with its CRLF) from one raw row."""
        (reference, status, outcome, category, score, cook_score, rule_version, created_at, updated_at,
         scheduled_for, assignee, duplicate_of, first_name, last_name, date_of_birth, phone, email,
         preferred_contact, best_time, preferred_language, screen_language, insurance, message,
         consent_contact, other_language, voicemail, proxy_name, proxy_relationship, documents, answers, _rank, _id,
         rules) = raw
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
        extra = ["" if value is None else decrypt[name](value) for name, value in (
            ("other_language", other_language), ("proxy_name", proxy_name), ("proxy_relationship", proxy_relationship))]
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
            cell(extra[0]), cell(voicemail), cell(extra[1]), cell(extra[2]), documents or 0,
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


# How each question's table is looked up (``Lines.line``): plain local names, not enum attribute lookups.
_CODE, _INTEGER, _MULTI = "code", "integer", "multi"
_KINDS = {Kind.INTEGER: _INTEGER, Kind.MULTI: _MULTI}



def keyset_of(raw: Sequence[Any]) -> dict[str, Any]:
    """A raw row's keyset values as the typed statement binds them (created_at parsed as ``UTCDateTime`` reads it)."""
    return {"category_rank": raw[_RANK_AT], "created_at": _moment(raw[_CREATED_AT]), "id": raw[_ID_AT]}


_RANK_AT, _CREATED_AT, _ID_AT = (_KEYS.index(key) for key in ("category_rank", "created_at", "id"))
