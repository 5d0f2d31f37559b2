"""The codebook: every questionnaire field with its step, question, type, codes, labels and when it applies.

Generated from the one definition of the questions (app/screening/questions.py), like the forms and the CSV
export, so it never drifts from them. Its field names are the CSV export's column names (each field also has
a ``<field>_label`` column) and the FHIR linkIds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, fields

from app.exports.csv_lines import BOM, cell
from app.screening.questions import BY_FIELD, PAGES, STEP_TITLES, Kind, Question

KIND_WORDS = {Kind.SINGLE: "one of", Kind.MULTI: "list, at least one", Kind.YESNO: "yes/no",
              Kind.INTEGER: "whole number"}
ALWAYS = "always"


@dataclass(frozen=True)
class CodebookRow:
    """One code of one field (an integer field has one row, with its range and no code)."""

    step: str
    step_title: str
    page: str
    field: str
    question: str
    question_back_only: str  # the wording asked of patients with no leg or buttock symptoms, if different
    hint: str
    type: str
    applies_when: str
    minimum: int | None
    maximum: int | None
    code: str
    label: str
    exclusive: bool  # this code must be the only one chosen


COLUMNS = tuple(f.name for f in fields(CodebookRow))


@dataclass(frozen=True)
class CodebookField:
    """One field with its codes, for the codebook page."""

    question: Question
    page: str
    rows: list[CodebookRow]

    @property
    def type_words(self) -> str:
        """The field's type in words."""
        return KIND_WORDS[self.question.kind]


def codebook_fields() -> list[CodebookField]:
    """Every field, in the order the pages ask them."""
    result = []
    for page in PAGES:
        for name in page.fields:
            question = BY_FIELD[name]
            common = {
                "step": question.step, "step_title": str(STEP_TITLES[question.step]), "page": page.slug,
                "field": name, "question": str(question.text),
                "question_back_only": str(question.back_only_text or ""), "hint": str(question.hint or ""),
                "type": question.kind.value, "applies_when": question.applies_when or ALWAYS,
                "minimum": question.minimum, "maximum": question.maximum,
            }
            if question.kind is Kind.INTEGER:
                rows = [CodebookRow(**common, code="", label="", exclusive=False)]
            else:
                rows = [CodebookRow(**common, code=option.code, label=str(option.label),
                                    exclusive=option.code in question.exclusive) for option in question.options]
            result.append(CodebookField(question, page.slug, rows))
    return result


def codebook_rows() -> list[CodebookRow]:
    """One row per code of every field (one per integer field), in form order."""
    return [row for entry in codebook_fields() for row in entry.rows]


def codebook_by_step() -> list[tuple[str, str, list[CodebookField]]]:
    """(step, title, fields) in questionnaire order."""
    entries = codebook_fields()
    steps = list(dict.fromkeys(entry.question.step for entry in entries))
    return [(step, str(STEP_TITLES[step]), [e for e in entries if e.question.step == step]) for step in steps]


def codebook_csv() -> Iterator[str]:
    """The codebook as CSV (UTF-8 with a BOM for spreadsheets, CRLF, like the export)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in codebook_rows():
        writer.writerow([cell(getattr(row, name)) for name in COLUMNS])
    yield BOM + buffer.getvalue()
