"""Rule set 2026.2: turns valid answers into an assessment (spec section 3).

Pure and deterministic: the same answers always give the same assessment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from app.screening.questions import BY_FIELD, THINNER_CODES
from app.screening.texts import RULE_TEXTS, UNMET_TEXTS
from app.screening.validation import InvalidAnswers, Problem, check_answer, validate_answers

RULE_VERSION = "2026.2"

Answers = Mapping[str, Any]
Rule = Callable[[Answers], bool]


class Category(StrEnum):
    """How well the answers fit the pattern MILD treats; exactly one per assessment."""

    EMERGENCY = "emergency"
    LIKELY = "likely"
    POSSIBLE = "possible"
    UNLIKELY = "unlikely"


def _findings(a: Answers) -> list[str]:
    return list(a.get("mri_findings") or []) if str(a.get("had_mri", "")).startswith("yes") else []


def _imaging_needs_review(findings: list[str]) -> bool:
    """Caution K12 (U3 until 2026.1): the scan names something besides a thick ligament, and no thick ligament."""
    return (bool(findings) and "thick_ligament" not in findings and "not_sure" not in findings
            and bool(ELSEWHERE.intersection(findings)))


EMERGENCY_FLAGS = frozenset({"bladder_bowel", "saddle_numbness", "worsening_weakness", "fever"})
THINNERS = THINNER_CODES  # K1: the same answers that ask whether the medicine may be stopped
LIMITED_WALKING = frozenset({"under_5_min", "5_to_15_min", "15_to_30_min"})
ELSEWHERE = frozenset({"bone_spurs", "disc_herniation", "instability"})

EMERGENCY_RULES: dict[str, Rule] = {
    "E1": lambda a: bool(EMERGENCY_FLAGS.intersection(a["red_flags"])),
}

# Points for the fit score; the order is the order reasons are listed.
CORE_RULES: dict[str, tuple[int, Rule]] = {
    "C1": (25, lambda a: a["leg_symptoms"] != "none"
           and a["worse_standing_walking"] == "yes" and a["relief_sitting_bending"] == "yes"),
    "C2": (10, lambda a: a["symptom_duration"] != "under_3_months"),
    "C3": (20, lambda a: "yes_no_lasting_relief" in (a["tried_pt"], a["tried_injections"])
           and a.get("conservative_duration") == "3_months_or_more"),
    "C4": (25, lambda a: "thick_ligament" in _findings(a)),
    "C5": (10, lambda a: a["walking_limit"] in LIMITED_WALKING),
    "C6": (5, lambda a: a["pain_score"] >= 5),
    "C7": (5, lambda a: a["age"] >= 50),
}

# U3 was retired in 2026.2 for the caution K12; its id is not reused.
AGAINST_RULES: dict[str, Rule] = {
    "U1": lambda a: a["leg_symptoms"] == "none",
    "U2": lambda a: a["worse_standing_walking"] == "no" and a["relief_sitting_bending"] == "no",
    "U4": lambda a: a["walking_limit"] == "over_30_min",
}

CAUTION_RULES: dict[str, Rule] = {
    "P1": lambda a: "cancer_history" in a["red_flags"],
    "P2": lambda a: "recent_injury" in a["red_flags"],
    "P3": lambda a: "weight_loss" in a["red_flags"],
    "K1": lambda a: bool(THINNERS.intersection(a["blood_thinners"])),
    "K2": lambda a: a["bleeding_disorder"] in ("yes", "not_sure"),
    "K3": lambda a: a["can_lie_prone"] in ("no", "not_sure"),
    "K4": lambda a: a["sedation_problems"] == "yes",
    "K5": lambda a: a["vascular_disease"] in ("yes", "not_sure")
    or (a["worse_standing_walking"] == "yes" and a["relief_sitting_bending"] == "no"),
    "K6": lambda a: a["prior_back_surgery"] == "yes",
    "K7": lambda a: "slipped_vertebra" in _findings(a),
    "K8": lambda a: a["had_mri"] in ("yes_older", "no", "not_sure"),
    "K9": lambda a: a["pain_when_seated"] == "yes",
    "K10": lambda a: a["age"] > 80 or a["walking_limit"] == "cannot_walk",
    "K11": lambda a: a.get("thinner_hold_risk") in ("yes", "not_sure"),
    "K12": lambda a: _imaging_needs_review(_findings(a)),
    "K13": lambda a: "instability" in _findings(a),
}
# Cautions that keep a result at "possible" however well the rest fits.
HOLDS = ("P1", "P2", "P3", "K9", "K13")
# The prompt-review flags, decided from the safety answers alone like E1.
PROMPT_REVIEW = ("P1", "P2", "P3")


@dataclass(frozen=True)
class Explanation:
    """One rule id with its words for the patient and for staff."""

    id: str
    patient: str
    staff: str


@dataclass(frozen=True)
class Assessment:
    """The result of screening one set of answers."""

    category: Category
    score: int | None  # None only for an emergency assessed from the safety answers alone
    cook_score: int | None
    rule_version: str
    reasons: tuple[str, ...]
    unmet: tuple[str, ...]
    cautions: tuple[str, ...]
    holds: tuple[str, ...] = ()  # the cautions that kept the result at "possible" (none before 2026.2)
    complete: bool = True  # False: only the safety answers were given, and they call for emergency care

    def ids(self, prefix: str) -> tuple[str, ...]:
        """The reason and caution ids of one kind: ``E``, ``U``, ``C`` (met), ``P`` or ``K``."""
        return tuple(rule_id for rule_id in self.reasons + self.cautions if rule_id.startswith(prefix))

    def explain(self, ids: tuple[str, ...], *, unmet: bool = False) -> list[Explanation]:
        """The patient and staff texts of ``ids``; ``unmet`` gives the 'what is missing' wording."""
        return [
            Explanation(
                rule_id,
                UNMET_TEXTS[rule_id] if unmet else RULE_TEXTS[rule_id].patient,
                ("Not met: " if unmet else "") + RULE_TEXTS[rule_id].staff,
            )
            for rule_id in ids
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with every id's patient and staff text."""
        data = asdict(self)
        data["category"] = self.category.value
        data["reasons"], data["unmet"], data["cautions"], data["holds"] = (
            list(self.reasons), list(self.unmet), list(self.cautions), list(self.holds))
        data["texts"] = {
            e.id: {"patient": e.patient, "staff": e.staff}
            for e in self.explain(self.reasons) + self.explain(self.cautions)
        }
        data["unmet_texts"] = {
            e.id: {"patient": e.patient, "staff": e.staff} for e in self.explain(self.unmet, unmet=True)
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assessment:
        """Rebuild a stored assessment (texts are regenerated, not trusted from storage).

        A 2026.1 assessment has no ``holds`` or ``complete``: it had no holds and was always complete.
        """
        return cls(
            category=Category(data["category"]),
            score=None if data.get("score") is None else int(data["score"]),
            cook_score=None if data.get("cook_score") is None else int(data["cook_score"]),
            rule_version=str(data["rule_version"]),
            reasons=tuple(data["reasons"]),
            unmet=tuple(data["unmet"]),
            cautions=tuple(data["cautions"]),
            holds=tuple(data.get("holds") or ()),
            complete=bool(data.get("complete", True)),
        )


def cook_score(a: Answers) -> int:
    """The Cook 2011 five-item LSS pattern count (staff only)."""
    return sum((
        a["leg_symptoms"] == "both_sides",
        a["main_pain"] == "legs",
        a["worse_standing_walking"] == "yes",
        a["relief_sitting_bending"] == "yes",
        a["age"] > 48,
    ))


def emergency_flags(red_flags: list[str]) -> bool:
    """Whether the safety answers alone call for emergency care (rule E1), before anything else is asked."""
    return EMERGENCY_RULES["E1"]({"red_flags": red_flags})


def assess(answers: Answers) -> Assessment:
    """Assess ``answers`` under rule set 2026.2; raise ``InvalidAnswers`` listing every bad field.

    Safety answers that call for emergency care (E1) are assessed even when nothing else is answered: an
    emergency assessment with ``complete`` false and no scores. Anything else must be complete and valid.
    """
    try:
        a = validate_answers(answers)
    except InvalidAnswers as invalid:
        partial = _emergency_only(answers, invalid)
        if partial is None:
            raise
        return partial
    emergency = [rule_id for rule_id, rule in EMERGENCY_RULES.items() if rule(a)]
    against = [rule_id for rule_id, rule in AGAINST_RULES.items() if rule(a)]
    met = [rule_id for rule_id, (_, rule) in CORE_RULES.items() if rule(a)]
    unmet = [rule_id for rule_id in CORE_RULES if rule_id not in met]
    cautions = tuple(rule_id for rule_id, rule in CAUTION_RULES.items() if rule(a))
    holds = tuple(rule_id for rule_id in HOLDS if rule_id in cautions)

    if emergency:
        category = Category.EMERGENCY
    elif against:
        category = Category.UNLIKELY
    elif not unmet and not holds:
        category = Category.LIKELY
    else:
        category = Category.POSSIBLE

    return Assessment(
        category=category,
        score=sum(CORE_RULES[rule_id][0] for rule_id in met),
        cook_score=cook_score(a),
        rule_version=RULE_VERSION,
        reasons=tuple(emergency + against + met),
        unmet=tuple(unmet),
        cautions=cautions,
        holds=holds,
    )


def _emergency_only(answers: Answers, invalid: InvalidAnswers) -> Assessment | None:
    """The assessment of safety answers that call for emergency care when the rest is unanswered, else None.

    Only missing answers are overlooked: an unknown field, or an answer outside its codes, is still invalid.
    """
    if any(error.problem is not Problem.MISSING for error in invalid.errors):
        return None
    red_flags = answers.get("red_flags")
    if check_answer(BY_FIELD["red_flags"], red_flags) is not None or not emergency_flags(list(red_flags)):
        return None
    prompt_review = tuple(rule_id for rule_id in PROMPT_REVIEW if CAUTION_RULES[rule_id]({"red_flags": red_flags}))
    return Assessment(
        category=Category.EMERGENCY,
        score=None,
        cook_score=None,
        rule_version=RULE_VERSION,
        reasons=("E1",),
        unmet=(),
        cautions=prompt_review,
        holds=prompt_review,  # the P rules are holds too
        complete=False,
    )
