"""Validation of answers against the data dictionary (spec section 2), through ``validate_answers`` and ``assess``.

Invalid input raises ``InvalidAnswers`` naming every bad field at once, each with a stable ``problem``
code. Conditional answers are required only when their question applies and are dropped otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.screening import InvalidAnswers, assess, validate_answers
from app.screening.questions import BY_FIELD, QUESTIONS
from app.screening.validation import FieldError, Problem
from tests.answers import BASE_ANSWERS, answers_with

ALWAYS_ASKED: tuple[str, ...] = tuple(q.field for q in QUESTIONS if q.applies is None)
TRIED_FIELDS: tuple[str, ...] = ("tried_pt", "tried_injections", "tried_medications")
NOTHING_TRIED: dict[str, Any] = {name: "no" for name in TRIED_FIELDS}

Check = Callable[[dict[str, Any]], object]
CHECKS = [pytest.param(validate_answers, id="validate_answers"), pytest.param(assess, id="assess")]


def errors_of(check: Check, answers: Any) -> list[FieldError]:
    """The errors ``check`` raises for ``answers`` (fails the test if it raises nothing)."""
    with pytest.raises(InvalidAnswers) as caught:
        check(answers)
    return caught.value.errors


def problems(errors: list[FieldError]) -> dict[str, str]:
    """``{field: problem code}``; also checks no field is reported twice."""
    fields = [error.field for error in errors]
    assert len(fields) == len(set(fields)), fields
    return {error.field: error.problem.value for error in errors}


# --- valid input --------------------------------------------------------------------------------


def test_base_case_is_valid_and_unchanged() -> None:
    assert set(BASE_ANSWERS) == {name for name, question in BY_FIELD.items() if question.is_asked(BASE_ANSWERS)}
    assert set(BY_FIELD) - set(BASE_ANSWERS) == {"prior_surgery_type", "thinner_hold_risk"}  # they do not apply
    assert validate_answers(BASE_ANSWERS) == BASE_ANSWERS


def test_validate_returns_a_copy() -> None:
    answers = answers_with()
    clean = validate_answers(answers)
    clean["mri_findings"].append("bone_spurs")
    clean["age"] = 30
    assert answers == BASE_ANSWERS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("pain_score", 0, id="pain-0"),
        pytest.param("pain_score", 10, id="pain-10"),
        pytest.param("age", 18, id="age-18"),
        pytest.param("age", 120, id="age-120"),
        pytest.param("red_flags", ["cancer_history", "recent_injury", "weight_loss"], id="three-prompt-flags"),
        pytest.param("red_flags", ["bladder_bowel", "fever"], id="two-emergency-flags"),
        pytest.param("blood_thinners", ["aspirin", "anticoagulant", "not_sure"], id="thinners-with-not-sure"),
        pytest.param("mri_findings", ["not_sure"], id="findings-not-sure-alone"),
        pytest.param(
            "mri_findings",
            ["stenosis", "thick_ligament", "bone_spurs", "disc_herniation", "slipped_vertebra", "instability"],
            id="every-finding",
        ),
    ],
)
def test_valid_answers_are_kept(field: str, value: Any) -> None:
    clean = validate_answers(answers_with(**{field: value}, thinner_hold_risk="no"))
    assert clean[field] == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("mri_findings", ["thick_ligament", "stenosis"], id="mri_findings"),
        pytest.param("blood_thinners", ["not_sure", "anticoagulant", "aspirin"], id="blood_thinners"),
        pytest.param("red_flags", ["weight_loss", "fever", "cancer_history"], id="red_flags"),
    ],
)
def test_lists_are_normalised_to_definition_order(field: str, value: list[str]) -> None:
    clean = validate_answers(answers_with(**{field: value}, thinner_hold_risk="no"))
    assert clean[field] == [code for code in BY_FIELD[field].codes if code in value]
    assert sorted(clean[field]) == sorted(value)
    assert validate_answers(answers_with(**{field: list(reversed(value))}, thinner_hold_risk="no")) == clean


# --- one bad field ------------------------------------------------------------------------------

INVALID_CASES = [
    # unknown code
    pytest.param("leg_symptoms", "left", Problem.UNKNOWN_CODE, id="single-unknown-code"),
    pytest.param("walking_limit", "over_60_min", Problem.UNKNOWN_CODE, id="walking-unknown-code"),
    pytest.param("worse_standing_walking", "maybe", Problem.UNKNOWN_CODE, id="yesno-unknown-code"),
    pytest.param("worse_standing_walking", "Yes", Problem.UNKNOWN_CODE, id="yesno-wrong-case"),
    pytest.param("pain_when_seated", True, Problem.UNKNOWN_CODE, id="yesno-json-true"),
    pytest.param("had_mri", "yes", Problem.UNKNOWN_CODE, id="had-mri-bare-yes"),
    pytest.param("red_flags", ["back_pain"], Problem.UNKNOWN_CODE, id="multi-unknown-code"),
    pytest.param("blood_thinners", ["aspirin", "heparin"], Problem.UNKNOWN_CODE, id="multi-one-unknown"),
    pytest.param("mri_findings", ["stenosis", "tumour"], Problem.UNKNOWN_CODE, id="findings-unknown-code"),
    pytest.param("leg_symptoms", ["both_sides"], Problem.UNKNOWN_CODE, id="single-given-a-list"),
    # exclusive codes
    pytest.param("red_flags", ["none", "fever"], Problem.EXCLUSIVE, id="red-flags-none-and-emergency"),
    pytest.param("red_flags", ["cancer_history", "none"], Problem.EXCLUSIVE, id="red-flags-none-and-prompt"),
    pytest.param("blood_thinners", ["none", "aspirin"], Problem.EXCLUSIVE, id="thinners-none-and-aspirin"),
    pytest.param("blood_thinners", ["not_sure", "none"], Problem.EXCLUSIVE, id="thinners-none-and-not-sure"),
    pytest.param("mri_findings", ["not_sure", "stenosis"], Problem.EXCLUSIVE, id="findings-not-sure-and-more"),
    pytest.param(
        "mri_findings", ["thick_ligament", "not_sure"], Problem.EXCLUSIVE, id="findings-ligament-and-not-sure"
    ),
    # not a list
    pytest.param("red_flags", "none", Problem.NOT_A_LIST, id="red-flags-string"),
    pytest.param("blood_thinners", "aspirin", Problem.NOT_A_LIST, id="thinners-string"),
    pytest.param("mri_findings", {"stenosis": True}, Problem.NOT_A_LIST, id="findings-object"),
    pytest.param("red_flags", 1, Problem.NOT_A_LIST, id="red-flags-number"),
    # duplicates
    pytest.param("red_flags", ["fever", "fever"], Problem.DUPLICATE, id="red-flags-duplicate"),
    pytest.param("mri_findings", ["stenosis", "thick_ligament", "stenosis"], Problem.DUPLICATE, id="findings-dup"),
    pytest.param("blood_thinners", ["none", "none"], Problem.DUPLICATE, id="thinners-none-twice"),
    # integers
    pytest.param("pain_score", True, Problem.NOT_AN_INTEGER, id="pain-true"),
    pytest.param("pain_score", False, Problem.NOT_AN_INTEGER, id="pain-false"),
    pytest.param("pain_score", "7", Problem.NOT_AN_INTEGER, id="pain-string"),
    pytest.param("pain_score", 7.0, Problem.NOT_AN_INTEGER, id="pain-float"),
    pytest.param("pain_score", 6.5, Problem.NOT_AN_INTEGER, id="pain-fraction"),
    pytest.param("age", True, Problem.NOT_AN_INTEGER, id="age-true"),
    pytest.param("age", "72", Problem.NOT_AN_INTEGER, id="age-string"),
    pytest.param("age", [72], Problem.NOT_AN_INTEGER, id="age-list"),
    pytest.param("pain_score", -1, Problem.OUT_OF_RANGE, id="pain-minus-1"),
    pytest.param("pain_score", 11, Problem.OUT_OF_RANGE, id="pain-11"),
    pytest.param("age", 17, Problem.OUT_OF_RANGE, id="age-17"),
    pytest.param("age", 121, Problem.OUT_OF_RANGE, id="age-121"),
    # blank answers count as missing
    pytest.param("leg_symptoms", "", Problem.MISSING, id="empty-string"),
    pytest.param("red_flags", [], Problem.MISSING, id="empty-red-flags"),
    pytest.param("blood_thinners", [], Problem.MISSING, id="empty-blood-thinners"),
    pytest.param("mri_findings", [], Problem.MISSING, id="empty-findings-when-asked"),
    pytest.param("conservative_duration", "", Problem.MISSING, id="empty-duration-when-asked"),
    pytest.param("conservative_duration", "6_months", Problem.UNKNOWN_CODE, id="bad-duration-when-asked"),
]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize(("field", "value", "problem"), INVALID_CASES)
def test_one_invalid_answer(check: Check, field: str, value: Any, problem: Problem) -> None:
    errors = errors_of(check, answers_with(**{field: value}))
    assert problems(errors) == {field: problem.value}
    assert errors[0].detail.strip()


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("field", ALWAYS_ASKED)
def test_missing_required_answer(check: Check, field: str) -> None:
    assert problems(errors_of(check, answers_with(**{field: None}))) == {field: "missing"}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("field", ALWAYS_ASKED)
def test_explicit_null_is_missing(check: Check, field: str) -> None:
    answers = answers_with()
    answers[field] = None
    assert problems(errors_of(check, answers)) == {field: "missing"}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("name", ["favourite_colour", "Age", "red_flag", "answers", "texts"])
def test_unknown_field(check: Check, name: str) -> None:
    errors = errors_of(check, answers_with(**{name: "x"}))
    assert problems(errors) == {name: "unknown_field"}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([], id="list"),
        pytest.param([["age", 72]], id="list-of-pairs"),
        pytest.param("age=72", id="string"),
        pytest.param(42, id="number"),
        pytest.param(None, id="null"),
        pytest.param(True, id="bool"),
    ],
)
def test_non_object_input(check: Check, answers: Any) -> None:
    errors = errors_of(check, answers)
    assert problems(errors) == {"answers": "not_an_object"}


def test_every_problem_code_is_stable() -> None:
    assert {problem.value for problem in Problem} == {
        "missing",
        "unknown_code",
        "exclusive",
        "not_a_list",
        "duplicate",
        "not_an_integer",
        "out_of_range",
        "unknown_field",
        "not_an_object",
    }


# --- every bad field at once ----------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
def test_three_bad_fields_give_three_errors(check: Check) -> None:
    answers = answers_with(pain_score=11, red_flags=["none", "fever"], leg_symptoms=None)
    errors = errors_of(check, answers)
    assert len(errors) == 3
    assert problems(errors) == {"pain_score": "out_of_range", "red_flags": "exclusive", "leg_symptoms": "missing"}


@pytest.mark.parametrize("check", CHECKS)
def test_every_kind_of_problem_at_once(check: Check) -> None:
    answers = answers_with(
        red_flags=["none", "saddle_numbness"],
        leg_symptoms="left",
        walking_limit=None,
        pain_score="7",
        age=121,
        blood_thinners="aspirin",
        mri_findings=["stenosis", "stenosis"],
        shoe_size=42,
    )
    caught = errors_of(check, answers)
    expected = {
        "red_flags": "exclusive",
        "leg_symptoms": "unknown_code",
        "walking_limit": "missing",
        "pain_score": "not_an_integer",
        "age": "out_of_range",
        "blood_thinners": "not_a_list",
        "mri_findings": "duplicate",
        "shoe_size": "unknown_field",
    }
    assert problems(caught) == expected

    with pytest.raises(InvalidAnswers) as raised:
        check(answers)
    as_dict = raised.value.as_dict()
    assert {name: entry["problem"] for name, entry in as_dict.items()} == expected
    for entry in as_dict.values():
        assert set(entry) == {"problem", "detail"}
        assert entry["detail"].strip()
    message = str(raised.value)
    for name in expected:
        assert name in message


def test_empty_object_reports_every_always_asked_question() -> None:
    errors = errors_of(validate_answers, {})
    assert problems(errors) == dict.fromkeys(ALWAYS_ASKED, "missing")
    assert "conservative_duration" not in ALWAYS_ASKED
    assert "mri_findings" not in ALWAYS_ASKED


def test_invalid_answers_is_a_value_error() -> None:
    assert issubclass(InvalidAnswers, ValueError)


# --- conditional questions ------------------------------------------------------------------------

TRIED_CASES = [
    pytest.param({**NOTHING_TRIED, field: code}, id=f"{field}-{code}")
    for field in TRIED_FIELDS
    for code in ("yes_helped", "yes_no_lasting_relief")
]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("tried", TRIED_CASES)
def test_duration_required_when_something_was_tried(check: Check, tried: dict[str, str]) -> None:
    answers = answers_with(**tried, conservative_duration=None)
    assert problems(errors_of(check, answers)) == {"conservative_duration": "missing"}


@pytest.mark.parametrize("tried", TRIED_CASES)
@pytest.mark.parametrize("duration", ["under_3_months", "3_months_or_more"])
def test_duration_kept_when_something_was_tried(tried: dict[str, str], duration: str) -> None:
    clean = validate_answers(answers_with(**tried, conservative_duration=duration))
    assert clean["conservative_duration"] == duration


@pytest.mark.parametrize(
    "duration",
    [
        pytest.param(None, id="absent"),
        pytest.param("3_months_or_more", id="valid-code"),
        pytest.param("under_3_months", id="other-valid-code"),
        pytest.param("forever", id="unknown-code"),
        pytest.param("", id="blank"),
        pytest.param(42, id="number"),
        pytest.param(["3_months_or_more"], id="list"),
    ],
)
def test_duration_ignored_when_nothing_was_tried(duration: Any) -> None:
    answers = answers_with(**NOTHING_TRIED, conservative_duration=duration)
    clean = validate_answers(answers)
    assert "conservative_duration" not in clean
    assert clean == validate_answers(answers_with(**NOTHING_TRIED, conservative_duration=None))
    assert assess(answers) == assess(answers_with(**NOTHING_TRIED, conservative_duration=None))


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("had_mri", ["yes_last_12_months", "yes_older"])
def test_findings_required_after_a_scan(check: Check, had_mri: str) -> None:
    answers = answers_with(had_mri=had_mri, mri_findings=None)
    assert problems(errors_of(check, answers)) == {"mri_findings": "missing"}


@pytest.mark.parametrize("had_mri", ["yes_last_12_months", "yes_older"])
def test_findings_kept_after_a_scan(had_mri: str) -> None:
    clean = validate_answers(answers_with(had_mri=had_mri, mri_findings=["not_sure"]))
    assert clean["mri_findings"] == ["not_sure"]


@pytest.mark.parametrize("had_mri", ["no", "not_sure"])
@pytest.mark.parametrize(
    "findings",
    [
        pytest.param(None, id="absent"),
        pytest.param(["thick_ligament"], id="valid-codes"),
        pytest.param(["bone_spurs", "instability"], id="codes-pointing-elsewhere"),
        pytest.param(["not_sure", "stenosis"], id="exclusive-broken"),
        pytest.param(["tumour"], id="unknown-code"),
        pytest.param("stenosis", id="not-a-list"),
        pytest.param([], id="empty"),
        pytest.param(7, id="number"),
    ],
)
def test_findings_ignored_without_a_scan(had_mri: str, findings: Any) -> None:
    answers = answers_with(had_mri=had_mri, mri_findings=findings)
    clean = validate_answers(answers)
    assert "mri_findings" not in clean
    assert clean["had_mri"] == had_mri
    without = answers_with(had_mri=had_mri, mri_findings=None)
    assert assess(answers) == assess(without)


def test_ignored_answers_are_ignored_together_with_other_errors() -> None:
    answers = answers_with(
        **NOTHING_TRIED, conservative_duration="forever", had_mri="no", mri_findings=["tumour"], age=17
    )
    assert problems(errors_of(validate_answers, answers)) == {"age": "out_of_range"}


def test_unknown_tried_code_still_reports_the_missing_duration() -> None:
    answers = answers_with(**{**NOTHING_TRIED, "tried_pt": "maybe"}, conservative_duration=None)
    assert problems(errors_of(validate_answers, answers)) == {
        "tried_pt": "unknown_code",
        "conservative_duration": "missing",
    }


# --- known bug (see the final report): an empty tuple passes "at least one" -----------------------


@pytest.mark.parametrize("field", ["red_flags", "blood_thinners", "mri_findings"])
def test_empty_tuple_is_missing(field: str) -> None:
    answers = answers_with(**{field: ()})
    try:
        validate_answers(answers)
    except InvalidAnswers as exc:
        assert problems(exc.errors) == {field: "missing"}
    else:
        raise AssertionError(f"{field}=() was accepted as a valid answer")
