"""Test answers: the spec section 5 base case and a builder for variations of it.

``BASE_ANSWERS`` is the base case of the worked examples (rule set 2026.1): every criterion met, no
caution. ``answers_with`` returns a fresh deep copy with some answers changed; a value of ``None``
removes the key, so a test can leave a question unanswered.
"""

from __future__ import annotations

import copy
from typing import Any

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
