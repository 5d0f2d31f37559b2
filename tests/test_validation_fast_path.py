"""``validate_answers`` has a fast path for the usual answers (issue 7); it must agree with ``check_answer``.

The reference below is the plain definition: a question that applies is checked by ``check_answer`` alone,
and valid lists are kept in definition order. Any answer set, valid or not, must give the same result.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.screening import InvalidAnswers, validate_answers
from app.screening.questions import QUESTIONS, Kind, Question
from app.screening.validation import check_answer
from tests.answers import BASE_ANSWERS


def reference(answers: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """What validate_answers should return (clean answers) or raise (field, problem), without a fast path."""
    clean: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for question in QUESTIONS:
        if not question.is_asked(answers):
            continue
        value = answers.get(question.field)
        problem = check_answer(question, value)
        if problem:
            errors.append((problem.field, problem.problem.value))
        elif question.kind is Kind.MULTI:
            clean[question.field] = [code for code in question.codes if code in value]
        else:
            clean[question.field] = value
    return clean, errors


def values_for(question: Question) -> st.SearchStrategy[Any]:
    """Valid and nearly valid values: codes, unknown codes, repeats, exclusive mixes, bools, edge numbers."""
    codes = st.sampled_from(list(question.codes)) if question.codes else st.nothing()
    odd = st.one_of(st.none(), st.just(""), st.booleans(), st.text(max_size=5), st.integers(-5, 130),
                    st.floats(allow_nan=False, max_value=200, min_value=-5), st.just([]), st.tuples(codes))
    if question.kind is Kind.MULTI:
        lists = st.lists(st.one_of(codes, st.text(max_size=3), st.integers(0, 3)), min_size=1, max_size=5)
        return st.one_of(st.lists(codes, min_size=1, max_size=4, unique=True), lists, odd)
    if question.kind is Kind.INTEGER:
        low, high = question.minimum or 0, question.maximum or 0
        return st.one_of(st.integers(low - 2, high + 2), odd)
    return st.one_of(codes, odd)


answer_sets = st.fixed_dictionaries(
    {}, optional={question.field: values_for(question) for question in QUESTIONS}
).map(lambda drawn: {**BASE_ANSWERS, **drawn})


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # slow on a loaded machine
@given(answer_sets)
def test_the_fast_path_agrees_with_check_answer(answers: dict[str, Any]) -> None:
    clean, errors = reference(answers)
    try:
        result = validate_answers(answers)
    except InvalidAnswers as raised:
        assert [(error.field, error.problem.value) for error in raised.errors] == errors
    else:
        assert errors == []
        assert result == clean
        assert all(type(result[key]) is type(value) for key, value in clean.items())
