"""Stored results under the current rules: nothing stored is rewritten, but staff see what would change.

Each screening keeps its answers, its assessment and its rule version. When the rule set changes, the same
answers are assessed again under the current rules, for display only (spec section 3, "Output").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.screening.rules import RULE_VERSION, Assessment, assess
from app.screening.validation import InvalidAnswers


@dataclass(frozen=True)
class Reassessment:
    """A stored assessment beside what the current rules make of the same answers."""

    stored: Assessment
    current: Assessment | None  # None when the current rules cannot assess the stored answers
    problem: str = ""  # why they cannot: the fields the current rules need and the answers lack

    @property
    def category_changed(self) -> bool:
        """Whether the current rules would give another category (or cannot assess the answers at all)."""
        return self.current is None or self.current.category is not self.stored.category


def reassess(answers: Mapping[str, Any], stored: Mapping[str, Any]) -> Reassessment:
    """``stored`` (an assessment as saved) and the current rules' assessment of the same ``answers``."""
    made = Assessment.from_dict(stored)
    if made.rule_version == RULE_VERSION:
        return Reassessment(made, made)
    try:
        return Reassessment(made, assess(answers))
    except InvalidAnswers as invalid:
        fields = ", ".join(error.field for error in invalid.errors)
        return Reassessment(made, None, f"the current rules need answers these were not asked: {fields}")
