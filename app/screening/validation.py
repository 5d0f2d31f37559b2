"""Checks a set of answers against the question definitions (spec section 2).

Used by the rules (which refuse invalid input), by the patient forms (one message per field) and by the
CLI. Pure Python: no Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.screening.questions import BY_FIELD, QUESTIONS, Kind, Question


class Problem(StrEnum):
    """Why an answer is invalid."""

    MISSING = "missing"
    UNKNOWN_CODE = "unknown_code"
    EXCLUSIVE = "exclusive"
    NOT_A_LIST = "not_a_list"
    DUPLICATE = "duplicate"
    NOT_AN_INTEGER = "not_an_integer"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_FIELD = "unknown_field"
    NOT_AN_OBJECT = "not_an_object"


@dataclass(frozen=True)
class FieldError:
    """One invalid answer: which field, why (a stable code) and a sentence for developers."""

    field: str
    problem: Problem
    detail: str


class InvalidAnswers(ValueError):
    """The answers break the data dictionary; ``errors`` lists every bad field, not just the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.detail}" for e in errors))

    def as_dict(self) -> dict[str, dict[str, str]]:
        """The errors as JSON-ready ``{field: {"problem", "detail"}}``."""
        return {e.field: {"problem": e.problem.value, "detail": e.detail} for e in self.errors}


# Enum members looked up once: each lookup through the class costs more than the check it is used in.
_INTEGER, _MULTI = Kind.INTEGER, Kind.MULTI


def check_answer(question: Question, value: Any) -> FieldError | None:
    """Return what is wrong with one answer to ``question``, or None when it is valid."""
    if value is None or value == "" or (isinstance(value, (list, tuple)) and not value):
        return FieldError(question.field, Problem.MISSING, "an answer is required")
    if question.kind is _INTEGER:
        # bool is an int subclass in Python; JSON true is not an age.
        if not isinstance(value, int) or isinstance(value, bool):
            return FieldError(question.field, Problem.NOT_AN_INTEGER, "must be a whole number")
        assert question.minimum is not None and question.maximum is not None  # noqa: S101 - definition invariant
        if not question.minimum <= value <= question.maximum:
            return FieldError(question.field, Problem.OUT_OF_RANGE,
                              f"must be from {question.minimum} to {question.maximum}")
        return None
    codes = question.code_set  # every code is a str: anything else is unknown (and may not be hashable)
    if question.kind is _MULTI:
        if not isinstance(value, (list, tuple)):
            return FieldError(question.field, Problem.NOT_A_LIST, "must be a list of codes")
        unknown = [code for code in value if type(code) is not str or code not in codes]
        if unknown:
            return FieldError(question.field, Problem.UNKNOWN_CODE,
                              f"unknown code(s): {', '.join(map(str, unknown))}")
        if len(set(value)) != len(value):
            return FieldError(question.field, Problem.DUPLICATE, "a code is repeated")
        alone = question.exclusive.intersection(value)
        if alone and len(value) > 1:
            return FieldError(question.field, Problem.EXCLUSIVE,
                              f"'{sorted(alone)[0]}' cannot be combined with another code")
        return None
    if type(value) is not str or value not in codes:
        return FieldError(question.field, Problem.UNKNOWN_CODE, f"unknown code: {value!r}")
    return None


def validate_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Return the answers that apply, checked and normalised; raise InvalidAnswers listing every bad field.

    Answers to conditional questions that do not apply are dropped, not rejected (spec section 2).
    """
    if not isinstance(answers, dict | Mapping):  # dict first: an ABC check is slow, and most answers are dicts
        raise InvalidAnswers([FieldError("answers", Problem.NOT_AN_OBJECT, "must be a JSON object")])
    errors = [
        FieldError(name, Problem.UNKNOWN_FIELD, "not a field of the questionnaire")
        for name in answers
        if name not in BY_FIELD
    ]
    clean: dict[str, Any] = {}
    for question in QUESTIONS:
        if question.applies is not None and not question.applies(answers):  # Question.is_asked
            continue
        field = question.field
        value = answers.get(field)
        problem = check_answer(question, value)
        if problem:
            errors.append(problem)
        elif question.kind is _MULTI:
            clean[field] = [code for code in question.codes if code in value]  # definition order
        else:
            clean[field] = value
    if errors:
        raise InvalidAnswers(errors)
    return clean
