"""Test answers: the spec section 5 base case and a builder for variations of it.

``BASE_ANSWERS`` is the base case of the worked examples (rule set 2026.2): every criterion met, no
caution. ``answers_with`` returns a fresh deep copy with some answers changed; a value of ``None``
removes the key, so a test can leave a question unanswered. ``values_for`` draws valid and nearly valid
answers to one question for property tests.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from app.screening.questions import Kind, Question

BASE_ANSWERS: dict[str, Any] = {
    "red_flags": ["none"],
    "leg_symptoms": "both_sides",
    "worse_standing_walking": "yes",
    "relief_sitting_bending": "yes",
    "pain_when_seated": "no",
    "walking_limit": "5_to_15_min",
    "main_pain": "legs",
    "symptom_duration": "over_12_months",
    "pain_score": 7,
    "age": 72,
    "tried_pt": "yes_no_lasting_relief",
    "tried_injections": "yes_no_lasting_relief",
    "tried_medications": "yes_helped",
    "conservative_duration": "3_months_or_more",
    "prior_back_surgery": "no",
    "had_mri": "yes_last_12_months",
    "mri_findings": ["stenosis", "thick_ligament"],
    "blood_thinners": ["none"],
    "bleeding_disorder": "no",
    "can_lie_prone": "yes",
    "sedation_problems": "no",
    "vascular_disease": "no",
}


def answers_with(**changes: Any) -> dict[str, Any]:
    """A deep copy of ``BASE_ANSWERS`` with ``changes`` applied; a value of ``None`` removes that key."""
    answers = copy.deepcopy(BASE_ANSWERS)
    for name, value in changes.items():
        if value is None:
            answers.pop(name, None)
        else:
            answers[name] = copy.deepcopy(value)
    return answers


# The base case with every conditional question asked: each questionnaire page applies.
EVERY_PAGE_ANSWERS: dict[str, Any] = {
    **BASE_ANSWERS,
    "prior_back_surgery": "yes",
    "prior_surgery_type": "decompression",
    "blood_thinners": ["aspirin"],
    "thinner_hold_risk": "no",
}


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
