"""Rule set 2026.2 (spec sections 3 and 5): worked examples, every rule on its own, precedence and output.

Each rule table has cases where the rule fires and cases where it does not, at the boundaries the spec
names. Expected points come from the spec's fit-score table, not from the code under test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.screening import RULE_VERSION, Assessment, Category, InvalidAnswers, assess
from app.screening.questions import QUESTIONS
from app.screening.rules import emergency_flags
from app.screening.texts import RULE_TEXTS, UNMET_TEXTS
from tests.answers import BASE_ANSWERS, answers_with, values_for

# Spec section 3, "Fit score".
POINTS: dict[str, int] = {"C1": 25, "C2": 10, "C3": 20, "C4": 25, "C5": 10, "C6": 5, "C7": 5}
CORE_IDS: tuple[str, ...] = tuple(POINTS)
AGAINST_IDS: tuple[str, ...] = ("U1", "U2", "U4")  # U3 retired in 2026.2
PROMPT_IDS: tuple[str, ...] = ("P1", "P2", "P3")
CAUTION_IDS: tuple[str, ...] = tuple(f"K{n}" for n in range(1, 14))
HOLD_IDS: tuple[str, ...] = ("P1", "P2", "P3", "K9", "K13")  # spec section 3, "Cautions"
THINNER_KEPT: dict[str, Any] = {"thinner_hold_risk": "no"}  # asked once a blood thinner is named
ALL_IDS: frozenset[str] = frozenset(("E1", *PROMPT_IDS, *CORE_IDS, *AGAINST_IDS, *CAUTION_IDS))
WALKING_CODES: tuple[str, ...] = ("cannot_walk", "under_5_min", "5_to_15_min", "15_to_30_min", "over_30_min")
NO_MRI: dict[str, Any] = {"mri_findings": None}  # with had_mri no / not_sure: the question is not asked


def case(changes: dict[str, Any], expected: bool, case_id: str) -> Any:
    """A table row: answers changed from the base case, and whether the rule should fire."""
    return pytest.param(changes, expected, id=case_id)


def points_of(assessment: Assessment) -> int:
    """The fit score the spec gives for the core criteria listed as met."""
    return sum(POINTS[rule_id] for rule_id in assessment.reasons if rule_id in POINTS)


# --- spec section 5 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "category", "score", "cook", "cautions", "holds"),
    [
        pytest.param({}, Category.LIKELY, 100, 5, (), (), id="base-case"),
        pytest.param({"red_flags": ["saddle_numbness"]}, Category.EMERGENCY, 100, 5, (), (), id="saddle-numbness"),
        pytest.param({"had_mri": "no", "mri_findings": None}, Category.POSSIBLE, 75, 5, ("K8",), (), id="no-mri"),
        pytest.param(
            {"main_pain": "back", "leg_symptoms": "none"}, Category.UNLIKELY, 75, 3, (), (), id="back-pain-no-legs"
        ),
        pytest.param({"blood_thinners": ["anticoagulant"], "thinner_hold_risk": "no"}, Category.LIKELY, 100, 5,
                     ("K1",), (), id="anticoagulant"),
        pytest.param({"red_flags": ["cancer_history", "recent_injury", "weight_loss"]}, Category.POSSIBLE, 100, 5,
                     ("P1", "P2", "P3"), ("P1", "P2", "P3"), id="prompt-review-holds"),
        pytest.param({"mri_findings": ["stenosis", "bone_spurs"]}, Category.POSSIBLE, 75, 5, ("K12",), (),
                     id="spurs-without-ligament"),
        pytest.param({"mri_findings": ["stenosis", "thick_ligament", "bone_spurs", "disc_herniation"]},
                     Category.LIKELY, 100, 5, (), (), id="spurs-and-disc-with-ligament"),
        pytest.param({"mri_findings": ["thick_ligament", "instability"]}, Category.POSSIBLE, 100, 5, ("K13",),
                     ("K13",), id="instability-holds"),
        pytest.param({"mri_findings": ["stenosis", "instability"]}, Category.POSSIBLE, 75, 5, ("K12", "K13"),
                     ("K13",), id="instability-without-ligament"),
        pytest.param({"pain_when_seated": "yes"}, Category.POSSIBLE, 100, 5, ("K9",), ("K9",), id="seated-pain"),
        pytest.param({"relief_sitting_bending": "no"}, Category.POSSIBLE, 75, 4, ("K5",), (), id="no-relief"),
        pytest.param({"walking_limit": "cannot_walk"}, Category.POSSIBLE, 90, 5, ("K10",), (), id="cannot-walk"),
        pytest.param({"blood_thinners": ["antiplatelet"], "thinner_hold_risk": "yes"}, Category.LIKELY, 100, 5,
                     ("K1", "K11"), (), id="thinner-must-not-stop"),
        pytest.param({"prior_back_surgery": "yes", "prior_surgery_type": "fusion"}, Category.LIKELY, 100, 5,
                     ("K6",), (), id="prior-fusion"),
    ],
)
def test_worked_examples(
    changes: dict[str, Any], category: Category, score: int, cook: int, cautions: tuple[str, ...],
    holds: tuple[str, ...],
) -> None:
    assessment = assess(answers_with(**changes))
    assert assessment.category is category
    assert assessment.score == score
    assert assessment.cook_score == cook
    assert assessment.cautions == cautions
    assert assessment.holds == holds
    assert assessment.complete is True
    assert assessment.rule_version == "2026.2"


def test_worked_example_emergency_from_the_safety_answers_alone() -> None:
    """Spec section 5, last row: only red_flags [saddle_numbness, cancer_history] answered."""
    assessment = assess({"red_flags": ["saddle_numbness", "cancer_history"]})
    assert assessment.category is Category.EMERGENCY
    assert assessment.complete is False
    assert (assessment.score, assessment.cook_score) == (None, None)
    assert (assessment.reasons, assessment.unmet) == (("E1",), ())
    assert assessment.cautions == ("P1",)
    assert assessment.holds == ("P1",)
    data = assessment.to_dict()
    assert data["complete"] is False and data["score"] is None and data["holds"] == ["P1"]
    assert Assessment.from_dict(json.loads(json.dumps(data))) == assessment


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({"red_flags": ["none"]}, id="no-emergency"),
        pytest.param({"red_flags": ["cancer_history"]}, id="prompt-review-only"),
        pytest.param({"red_flags": ["fever"], "age": 200}, id="an-invalid-answer-beside-it"),
        pytest.param({"red_flags": ["fever"], "shoe_size": 9}, id="an-unknown-field-beside-it"),
        pytest.param({"red_flags": ["fever", "none"]}, id="invalid-red-flags"),
        pytest.param({"age": 72}, id="no-red-flags"),
    ],
)
def test_only_an_emergency_may_be_assessed_from_incomplete_answers(answers: dict[str, Any]) -> None:
    with pytest.raises(InvalidAnswers):
        assess(answers)


def test_base_case_meets_every_core_criterion_and_nothing_else() -> None:
    assessment = assess(BASE_ANSWERS)
    assert assessment.reasons == CORE_IDS
    assert assessment.unmet == ()
    assert assessment.cautions == ()


# --- E1 -----------------------------------------------------------------------------------------

E1_CASES = [
    case({"red_flags": ["bladder_bowel"]}, True, "bladder_bowel"),
    case({"red_flags": ["saddle_numbness"]}, True, "saddle_numbness"),
    case({"red_flags": ["worsening_weakness"]}, True, "worsening_weakness"),
    case({"red_flags": ["fever"]}, True, "fever"),
    case({"red_flags": ["fever", "cancer_history"]}, True, "fever-with-prompt-flag"),
    case({"red_flags": ["bladder_bowel", "saddle_numbness", "worsening_weakness", "fever"]}, True, "all-four"),
    case({"red_flags": ["none"]}, False, "none"),
    case({"red_flags": ["cancer_history"]}, False, "cancer_history"),
    case({"red_flags": ["recent_injury"]}, False, "recent_injury"),
    case({"red_flags": ["weight_loss"]}, False, "weight_loss"),
    case({"red_flags": ["cancer_history", "recent_injury", "weight_loss"]}, False, "all-prompt-flags"),
]


@pytest.mark.parametrize(("changes", "fires"), E1_CASES)
def test_rule_e1(changes: dict[str, Any], fires: bool) -> None:
    assessment = assess(answers_with(**changes))
    assert ("E1" in assessment.reasons) is fires
    assert (assessment.category is Category.EMERGENCY) is fires
    assert "E1" not in assessment.cautions
    assert emergency_flags(changes["red_flags"]) is fires


# --- P1..P3 -------------------------------------------------------------------------------------

PROMPT_CASES = [
    pytest.param("P1", {"red_flags": ["cancer_history"]}, True, id="P1-fires"),
    pytest.param("P1", {"red_flags": ["recent_injury", "weight_loss"]}, False, id="P1-other-flags"),
    pytest.param("P1", {"red_flags": ["none"]}, False, id="P1-none"),
    pytest.param("P2", {"red_flags": ["recent_injury"]}, True, id="P2-fires"),
    pytest.param("P2", {"red_flags": ["cancer_history", "weight_loss"]}, False, id="P2-other-flags"),
    pytest.param("P2", {"red_flags": ["none"]}, False, id="P2-none"),
    pytest.param("P3", {"red_flags": ["weight_loss"]}, True, id="P3-fires"),
    pytest.param("P3", {"red_flags": ["cancer_history", "recent_injury"]}, False, id="P3-other-flags"),
    pytest.param("P3", {"red_flags": ["none"]}, False, id="P3-none"),
    pytest.param("P1", {"red_flags": ["cancer_history", "fever"]}, True, id="P1-with-emergency"),
]


@pytest.mark.parametrize(("rule_id", "changes", "fires"), PROMPT_CASES)
def test_prompt_review_rules(rule_id: str, changes: dict[str, Any], fires: bool) -> None:
    assessment = assess(answers_with(**changes))
    assert (rule_id in assessment.cautions) is fires
    assert rule_id not in assessment.reasons


def test_prompt_review_flags_hold_the_result_at_possible() -> None:
    assessment = assess(answers_with(red_flags=["cancer_history", "recent_injury", "weight_loss"]))
    assert assessment.category is Category.POSSIBLE
    assert assessment.score == 100 and assessment.unmet == ()
    assert set(assessment.cautions) == set(assessment.holds) == set(PROMPT_IDS)


# --- C1..C7 -------------------------------------------------------------------------------------

CORE_CASES = [
    # C1 neurogenic claudication
    pytest.param("C1", {}, True, id="C1-base"),
    pytest.param("C1", {"leg_symptoms": "one_side"}, True, id="C1-one-side"),
    pytest.param("C1", {"leg_symptoms": "none"}, False, id="C1-no-leg-symptoms"),
    pytest.param("C1", {"worse_standing_walking": "no"}, False, id="C1-not-worse-walking"),
    pytest.param("C1", {"relief_sitting_bending": "no"}, False, id="C1-no-relief-sitting"),
    # C2 symptoms for 3 months or more
    pytest.param("C2", {"symptom_duration": "under_3_months"}, False, id="C2-under-3-months"),
    pytest.param("C2", {"symptom_duration": "3_to_6_months"}, True, id="C2-3-to-6-months"),
    pytest.param("C2", {"symptom_duration": "6_to_12_months"}, True, id="C2-6-to-12-months"),
    pytest.param("C2", {"symptom_duration": "over_12_months"}, True, id="C2-over-12-months"),
    # C3 failed conservative care
    pytest.param("C3", {}, True, id="C3-base"),
    pytest.param("C3", {"tried_injections": "no", "tried_medications": "no"}, True, id="C3-pt-only"),
    pytest.param("C3", {"tried_pt": "no", "tried_medications": "no"}, True, id="C3-injections-only"),
    pytest.param("C3", {"tried_pt": "yes_helped"}, True, id="C3-pt-helped-injections-failed"),
    pytest.param("C3", {"tried_pt": "yes_helped", "tried_injections": "yes_helped"}, False, id="C3-everything-helped"),
    pytest.param(
        "C3",
        {"tried_pt": "no", "tried_injections": "no", "tried_medications": "yes_no_lasting_relief"},
        False,
        id="C3-medications-do-not-count",
    ),
    pytest.param("C3", {"conservative_duration": "under_3_months"}, False, id="C3-under-3-months"),
    pytest.param(
        "C3",
        {"tried_pt": "no", "tried_injections": "no", "tried_medications": "no", "conservative_duration": None},
        False,
        id="C3-nothing-tried",
    ),
    # C4 imaging shows a thickened ligament
    pytest.param("C4", {}, True, id="C4-base"),
    pytest.param("C4", {"mri_findings": ["thick_ligament"]}, True, id="C4-ligament-only"),
    pytest.param("C4", {"had_mri": "yes_older"}, True, id="C4-older-scan"),
    pytest.param("C4", {"mri_findings": ["stenosis"]}, False, id="C4-stenosis-only"),
    pytest.param("C4", {"mri_findings": ["not_sure"]}, False, id="C4-not-sure"),
    pytest.param("C4", {"had_mri": "no", **NO_MRI}, False, id="C4-no-scan"),
    pytest.param("C4", {"had_mri": "not_sure", **NO_MRI}, False, id="C4-not-sure-of-scan"),
    pytest.param("C4", {"had_mri": "no"}, False, id="C4-no-scan-findings-ignored"),
    pytest.param("C4", {"had_mri": "not_sure"}, False, id="C4-not-sure-of-scan-findings-ignored"),
    # C5 walking is limited: every walking_limit code
    pytest.param("C5", {"walking_limit": "cannot_walk"}, False, id="C5-cannot_walk"),
    pytest.param("C5", {"walking_limit": "under_5_min"}, True, id="C5-under_5_min"),
    pytest.param("C5", {"walking_limit": "5_to_15_min"}, True, id="C5-5_to_15_min"),
    pytest.param("C5", {"walking_limit": "15_to_30_min"}, True, id="C5-15_to_30_min"),
    pytest.param("C5", {"walking_limit": "over_30_min"}, False, id="C5-over_30_min"),
    # C6 pain at least moderate
    pytest.param("C6", {"pain_score": 0}, False, id="C6-pain-0"),
    pytest.param("C6", {"pain_score": 4}, False, id="C6-pain-4"),
    pytest.param("C6", {"pain_score": 5}, True, id="C6-pain-5"),
    pytest.param("C6", {"pain_score": 10}, True, id="C6-pain-10"),
    # C7 age 50 or over
    pytest.param("C7", {"age": 18}, False, id="C7-age-18"),
    pytest.param("C7", {"age": 49}, False, id="C7-age-49"),
    pytest.param("C7", {"age": 50}, True, id="C7-age-50"),
    pytest.param("C7", {"age": 120}, True, id="C7-age-120"),
]


@pytest.mark.parametrize(("rule_id", "changes", "met"), CORE_CASES)
def test_core_criteria(rule_id: str, changes: dict[str, Any], met: bool) -> None:
    assessment = assess(answers_with(**changes))
    assert (rule_id in assessment.reasons) is met
    assert (rule_id in assessment.unmet) is not met
    assert rule_id not in assessment.cautions
    assert assessment.score == points_of(assessment)


def test_every_core_criterion_case_table_covers_met_and_unmet() -> None:
    outcomes: dict[str, set[bool]] = {}
    for param in CORE_CASES:
        rule_id, _, met = param.values
        outcomes.setdefault(rule_id, set()).add(met)
    assert outcomes == {rule_id: {True, False} for rule_id in CORE_IDS}


# --- U1..U4 -------------------------------------------------------------------------------------

AGAINST_CASES = [
    # U1 no leg symptoms
    pytest.param("U1", {"leg_symptoms": "none"}, True, id="U1-none"),
    pytest.param("U1", {"leg_symptoms": "one_side"}, False, id="U1-one-side"),
    pytest.param("U1", {"leg_symptoms": "both_sides"}, False, id="U1-both-sides"),
    # U2 no claudication pattern at all
    pytest.param("U2", {"worse_standing_walking": "no", "relief_sitting_bending": "no"}, True, id="U2-neither"),
    pytest.param("U2", {"worse_standing_walking": "no"}, False, id="U2-relief-only"),
    pytest.param("U2", {"relief_sitting_bending": "no"}, False, id="U2-worse-only"),
    pytest.param("U2", {}, False, id="U2-both"),
    # U4 no real walking limit: every walking_limit code
    pytest.param("U4", {"walking_limit": "cannot_walk"}, False, id="U4-cannot_walk"),
    pytest.param("U4", {"walking_limit": "under_5_min"}, False, id="U4-under_5_min"),
    pytest.param("U4", {"walking_limit": "5_to_15_min"}, False, id="U4-5_to_15_min"),
    pytest.param("U4", {"walking_limit": "15_to_30_min"}, False, id="U4-15_to_30_min"),
    pytest.param("U4", {"walking_limit": "over_30_min"}, True, id="U4-over_30_min"),
]


@pytest.mark.parametrize(("rule_id", "changes", "fires"), AGAINST_CASES)
def test_against_rules(rule_id: str, changes: dict[str, Any], fires: bool) -> None:
    assessment = assess(answers_with(**changes))
    assert (rule_id in assessment.reasons) is fires
    assert rule_id not in assessment.unmet
    assert rule_id not in assessment.cautions
    if fires:
        assert assessment.category is Category.UNLIKELY


# --- K1..K10 ------------------------------------------------------------------------------------

CAUTION_CASES = [
    # K1 blood thinner or not sure
    pytest.param("K1", {"blood_thinners": ["none"]}, False, id="K1-none"),
    pytest.param("K1", {"blood_thinners": ["aspirin"], **THINNER_KEPT}, True, id="K1-aspirin"),
    pytest.param("K1", {"blood_thinners": ["antiplatelet"], **THINNER_KEPT}, True, id="K1-antiplatelet"),
    pytest.param("K1", {"blood_thinners": ["anticoagulant"], **THINNER_KEPT}, True, id="K1-anticoagulant"),
    pytest.param("K1", {"blood_thinners": ["not_sure"], **THINNER_KEPT}, True, id="K1-not-sure"),
    pytest.param("K1", {"blood_thinners": ["aspirin", "not_sure"], **THINNER_KEPT}, True,
                 id="K1-aspirin-and-not-sure"),
    # K2 bleeding disorder
    pytest.param("K2", {"bleeding_disorder": "yes"}, True, id="K2-yes"),
    pytest.param("K2", {"bleeding_disorder": "not_sure"}, True, id="K2-not-sure"),
    pytest.param("K2", {"bleeding_disorder": "no"}, False, id="K2-no"),
    # K3 cannot lie prone
    pytest.param("K3", {"can_lie_prone": "no"}, True, id="K3-no"),
    pytest.param("K3", {"can_lie_prone": "not_sure"}, True, id="K3-not-sure"),
    pytest.param("K3", {"can_lie_prone": "yes"}, False, id="K3-yes"),
    # K4 sedation problems
    pytest.param("K4", {"sedation_problems": "yes"}, True, id="K4-yes"),
    pytest.param("K4", {"sedation_problems": "no"}, False, id="K4-no"),
    # K5 vascular disease
    pytest.param("K5", {"vascular_disease": "yes"}, True, id="K5-yes"),
    pytest.param("K5", {"vascular_disease": "not_sure"}, True, id="K5-not-sure"),
    pytest.param("K5", {"vascular_disease": "no"}, False, id="K5-no"),
    # K5 also: walking pain that sitting does not ease (2026.2)
    pytest.param("K5", {"relief_sitting_bending": "no"}, True, id="K5-worse-walking-no-relief"),
    pytest.param("K5", {"worse_standing_walking": "no", "relief_sitting_bending": "no"}, False,
                 id="K5-neither"),
    pytest.param("K5", {"worse_standing_walking": "no"}, False, id="K5-relief-only"),
    # K6 prior back surgery
    pytest.param("K6", {"prior_back_surgery": "yes", "prior_surgery_type": "not_sure"}, True, id="K6-yes"),
    pytest.param("K6", {"prior_back_surgery": "no"}, False, id="K6-no"),
    # K7 slipped vertebra on imaging
    pytest.param("K7", {"mri_findings": ["slipped_vertebra"]}, True, id="K7-slip-only"),
    pytest.param(
        "K7", {"mri_findings": ["stenosis", "thick_ligament", "slipped_vertebra"]}, True, id="K7-with-ligament"
    ),
    pytest.param("K7", {"had_mri": "yes_older", "mri_findings": ["slipped_vertebra"]}, True, id="K7-older-scan"),
    pytest.param("K7", {}, False, id="K7-base"),
    pytest.param("K7", {"mri_findings": ["not_sure"]}, False, id="K7-not-sure"),
    pytest.param("K7", {"had_mri": "no", "mri_findings": ["slipped_vertebra"]}, False, id="K7-no-scan-ignored"),
    # K8 no recent imaging: every had_mri code
    pytest.param("K8", {"had_mri": "yes_last_12_months"}, False, id="K8-yes_last_12_months"),
    pytest.param("K8", {"had_mri": "yes_older"}, True, id="K8-yes_older"),
    pytest.param("K8", {"had_mri": "no", **NO_MRI}, True, id="K8-no"),
    pytest.param("K8", {"had_mri": "not_sure", **NO_MRI}, True, id="K8-not_sure"),
    # K9 pain when seated
    pytest.param("K9", {"pain_when_seated": "yes"}, True, id="K9-yes"),
    pytest.param("K9", {"pain_when_seated": "no"}, False, id="K9-no"),
    # K10 age over 80 or cannot walk
    pytest.param("K10", {"age": 80}, False, id="K10-age-80"),
    pytest.param("K10", {"age": 81}, True, id="K10-age-81"),
    pytest.param("K10", {"age": 120}, True, id="K10-age-120"),
    pytest.param("K10", {"walking_limit": "cannot_walk"}, True, id="K10-cannot-walk"),
    pytest.param("K10", {"walking_limit": "under_5_min"}, False, id="K10-under-5-min"),
    pytest.param("K10", {"age": 50, "walking_limit": "cannot_walk"}, True, id="K10-young-cannot-walk"),
    # K11 a blood thinner that may be unsafe to stop
    pytest.param("K11", {"blood_thinners": ["aspirin"], "thinner_hold_risk": "yes"}, True, id="K11-yes"),
    pytest.param("K11", {"blood_thinners": ["not_sure"], "thinner_hold_risk": "not_sure"}, True, id="K11-not-sure"),
    pytest.param("K11", {"blood_thinners": ["anticoagulant"], "thinner_hold_risk": "no"}, False, id="K11-no"),
    pytest.param("K11", {"thinner_hold_risk": "yes"}, False, id="K11-no-thinner-ignored"),
    # K12 imaging needs review (U3 until 2026.1)
    pytest.param("K12", {"mri_findings": ["bone_spurs"]}, True, id="K12-bone-spurs"),
    pytest.param("K12", {"mri_findings": ["disc_herniation"]}, True, id="K12-disc"),
    pytest.param("K12", {"mri_findings": ["instability"]}, True, id="K12-instability"),
    pytest.param("K12", {"mri_findings": ["stenosis", "bone_spurs"]}, True, id="K12-stenosis-and-spurs"),
    pytest.param("K12", {"mri_findings": ["slipped_vertebra", "disc_herniation"]}, True, id="K12-slip-and-disc"),
    pytest.param("K12", {"had_mri": "yes_older", "mri_findings": ["disc_herniation"]}, True, id="K12-older-scan"),
    pytest.param("K12", {"mri_findings": ["thick_ligament", "bone_spurs"]}, False, id="K12-with-thick-ligament"),
    pytest.param("K12", {"mri_findings": ["not_sure"]}, False, id="K12-not-sure"),
    pytest.param("K12", {"mri_findings": ["stenosis"]}, False, id="K12-stenosis-only"),
    pytest.param("K12", {"mri_findings": ["slipped_vertebra"]}, False, id="K12-slip-only"),
    pytest.param("K12", {}, False, id="K12-base"),
    pytest.param("K12", {"had_mri": "no", "mri_findings": ["bone_spurs"]}, False, id="K12-no-scan-ignored"),
    # K13 instability
    pytest.param("K13", {"mri_findings": ["thick_ligament", "instability"]}, True, id="K13-with-ligament"),
    pytest.param("K13", {"mri_findings": ["instability"]}, True, id="K13-alone"),
    pytest.param("K13", {"mri_findings": ["slipped_vertebra"]}, False, id="K13-slip-is-not-instability"),
    pytest.param("K13", {"had_mri": "not_sure", "mri_findings": ["instability"]}, False, id="K13-no-scan-ignored"),
]


@pytest.mark.parametrize(("rule_id", "changes", "fires"), CAUTION_CASES)
def test_caution_rules(rule_id: str, changes: dict[str, Any], fires: bool) -> None:
    assessment = assess(answers_with(**changes))
    assert (rule_id in assessment.cautions) is fires
    assert rule_id not in assessment.reasons
    assert rule_id not in assessment.unmet


def test_rule_tables_cover_every_rule_both_ways() -> None:
    outcomes: dict[str, set[bool]] = {}
    for table in (PROMPT_CASES, CORE_CASES, AGAINST_CASES, CAUTION_CASES):
        for param in table:
            rule_id, _, fires = param.values
            outcomes.setdefault(rule_id, set()).add(fires)
    for param in E1_CASES:
        outcomes.setdefault("E1", set()).add(param.values[1])
    assert outcomes == {rule_id: {True, False} for rule_id in ALL_IDS}


def test_cautions_that_are_not_holds_never_change_the_category() -> None:
    every_other_caution = answers_with(
        blood_thinners=["anticoagulant"],
        thinner_hold_risk="not_sure",
        bleeding_disorder="yes",
        can_lie_prone="no",
        sedation_problems="yes",
        vascular_disease="yes",
        prior_back_surgery="yes",
        prior_surgery_type="fusion",
        had_mri="yes_older",
        mri_findings=["thick_ligament", "slipped_vertebra"],
        age=81,
    )
    assessment = assess(every_other_caution)
    # K12 needs a scan without a thick ligament, so it cannot come with C4 met: its own worked example shows it.
    assert set(assessment.cautions) == set(CAUTION_IDS) - {"K9", "K12", "K13"}
    assert assessment.holds == ()
    assert assessment.category is Category.LIKELY
    assert assessment.score == 100
    assert assessment.reasons == CORE_IDS


@pytest.mark.parametrize("hold", HOLD_IDS)
def test_each_hold_keeps_a_perfect_fit_at_possible(hold: str) -> None:
    changes = {
        "P1": {"red_flags": ["cancer_history"]},
        "P2": {"red_flags": ["recent_injury"]},
        "P3": {"red_flags": ["weight_loss"]},
        "K9": {"pain_when_seated": "yes"},
        "K13": {"mri_findings": ["thick_ligament", "instability"]},
    }[hold]
    assessment = assess(answers_with(**changes))
    assert assessment.unmet == () and assessment.score == 100
    assert assessment.holds == (hold,)
    assert assessment.category is Category.POSSIBLE


# --- Cook 2011 pattern count ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "cook"),
    [
        pytest.param({}, 5, id="base"),
        pytest.param({"leg_symptoms": "one_side"}, 4, id="one-side"),
        pytest.param({"leg_symptoms": "none"}, 4, id="no-legs"),
        pytest.param({"main_pain": "back"}, 4, id="back"),
        pytest.param({"main_pain": "both_equal"}, 4, id="both-equal"),
        pytest.param({"worse_standing_walking": "no"}, 4, id="not-worse"),
        pytest.param({"relief_sitting_bending": "no"}, 4, id="no-relief"),
        pytest.param({"age": 48}, 4, id="age-48"),
        pytest.param({"age": 49}, 5, id="age-49"),
        pytest.param({"leg_symptoms": "none", "main_pain": "back"}, 3, id="worked-example"),
        pytest.param(
            {
                "leg_symptoms": "one_side",
                "main_pain": "back",
                "worse_standing_walking": "no",
                "relief_sitting_bending": "no",
                "age": 48,
            },
            0,
            id="none-of-five",
        ),
        pytest.param(
            {"pain_score": 0, "walking_limit": "over_30_min", "had_mri": "no", **NO_MRI}, 5, id="other-answers"
        ),
    ],
)
def test_cook_score(changes: dict[str, Any], cook: int) -> None:
    assert assess(answers_with(**changes)).cook_score == cook


# --- category precedence and score ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "category"),
    [
        pytest.param({"red_flags": ["fever"], "leg_symptoms": "none"}, Category.EMERGENCY, id="E-beats-U1"),
        pytest.param(
            {"red_flags": ["bladder_bowel"], "walking_limit": "over_30_min"}, Category.EMERGENCY, id="E-beats-U4"
        ),
        pytest.param({"red_flags": ["worsening_weakness"], "age": 49}, Category.EMERGENCY, id="E-beats-possible"),
        pytest.param({"red_flags": ["fever"]}, Category.EMERGENCY, id="E-beats-likely"),
        pytest.param({"walking_limit": "over_30_min"}, Category.UNLIKELY, id="U4-beats-possible"),
        pytest.param({"mri_findings": ["disc_herniation"]}, Category.POSSIBLE, id="K12-is-not-unlikely"),
        pytest.param({"walking_limit": "over_30_min", "pain_when_seated": "yes"}, Category.UNLIKELY,
                     id="U-beats-hold"),
        pytest.param({"red_flags": ["fever", "cancer_history"]}, Category.EMERGENCY, id="E-beats-hold"),
        pytest.param({"worse_standing_walking": "no", "relief_sitting_bending": "no"}, Category.UNLIKELY, id="U2"),
        pytest.param({"red_flags": ["cancer_history"], "age": 49}, Category.POSSIBLE, id="P-is-not-emergency"),
    ],
)
def test_category_precedence(changes: dict[str, Any], category: Category) -> None:
    assert assess(answers_with(**changes)).category is category


@pytest.mark.parametrize(
    ("rule_id", "changes"),
    [
        pytest.param("C1", {"relief_sitting_bending": "no"}, id="C1"),
        pytest.param("C2", {"symptom_duration": "under_3_months"}, id="C2"),
        pytest.param("C3", {"conservative_duration": "under_3_months"}, id="C3"),
        pytest.param("C4", {"mri_findings": ["stenosis"]}, id="C4"),
        pytest.param("C5", {"walking_limit": "cannot_walk"}, id="C5"),
        pytest.param("C6", {"pain_score": 4}, id="C6"),
        pytest.param("C7", {"age": 49}, id="C7"),
    ],
)
def test_possible_when_any_single_core_criterion_is_unmet(rule_id: str, changes: dict[str, Any]) -> None:
    assessment = assess(answers_with(**changes))
    assert assessment.category is Category.POSSIBLE
    assert assessment.unmet == (rule_id,)
    assert assessment.reasons == tuple(c for c in CORE_IDS if c != rule_id)
    assert assessment.score == 100 - POINTS[rule_id]


@pytest.mark.parametrize(
    ("changes", "category", "score"),
    [
        pytest.param({"red_flags": ["fever"]}, Category.EMERGENCY, 100, id="emergency-full-score"),
        pytest.param({"red_flags": ["fever"], "pain_score": 4, "age": 49}, Category.EMERGENCY, 90, id="emergency"),
        pytest.param(
            {"red_flags": ["saddle_numbness"], "leg_symptoms": "none", "had_mri": "no", **NO_MRI},
            Category.EMERGENCY,
            50,
            id="emergency-with-unlikely",
        ),
        pytest.param({"walking_limit": "over_30_min"}, Category.UNLIKELY, 90, id="unlikely-U4"),
        pytest.param({"leg_symptoms": "none"}, Category.UNLIKELY, 75, id="unlikely-U1"),
        pytest.param(
            {"worse_standing_walking": "no", "relief_sitting_bending": "no", "symptom_duration": "under_3_months"},
            Category.UNLIKELY,
            65,
            id="unlikely-U2",
        ),
    ],
)
def test_score_is_kept_for_emergency_and_unlikely(changes: dict[str, Any], category: Category, score: int) -> None:
    assessment = assess(answers_with(**changes))
    assert assessment.category is category
    assert assessment.score == score
    assert assessment.score == points_of(assessment)


def test_reasons_list_e_then_u_then_c() -> None:
    answers = answers_with(
        red_flags=["bladder_bowel"],
        leg_symptoms="none",
        worse_standing_walking="no",
        relief_sitting_bending="no",
        walking_limit="over_30_min",
        mri_findings=["bone_spurs"],
    )
    assessment = assess(answers)
    assert assessment.category is Category.EMERGENCY
    assert assessment.reasons == ("E1", "U1", "U2", "U4", "C2", "C3", "C6", "C7")
    assert assessment.unmet == ("C1", "C4", "C5")
    assert assessment.score == 10 + 20 + 5 + 5


def test_reasons_without_emergency_list_u_before_c() -> None:
    assessment = assess(answers_with(walking_limit="over_30_min", mri_findings=["instability"]))
    assert assessment.reasons == ("U4", "C1", "C2", "C3", "C6", "C7")
    assert assessment.unmet == ("C4", "C5")


def test_nothing_met_scores_zero() -> None:
    answers = answers_with(
        leg_symptoms="none",
        worse_standing_walking="no",
        relief_sitting_bending="no",
        symptom_duration="under_3_months",
        tried_pt="no",
        tried_injections="no",
        tried_medications="no",
        conservative_duration=None,
        had_mri="no",
        mri_findings=None,
        walking_limit="over_30_min",
        pain_score=0,
        age=18,
    )
    assessment = assess(answers)
    assert assessment.category is Category.UNLIKELY
    assert assessment.score == 0
    assert assessment.unmet == CORE_IDS
    assert assessment.reasons == ("U1", "U2", "U4")


ALL_CASE_CHANGES = [param.values[0] for param in E1_CASES] + [
    param.values[1] for table in (PROMPT_CASES, CORE_CASES, AGAINST_CASES, CAUTION_CASES) for param in table
]


@pytest.mark.parametrize("changes", ALL_CASE_CHANGES)
def test_assessment_invariants(changes: dict[str, Any]) -> None:
    """Over every table row: score matches the met criteria, met and unmet partition C1..C7, ids are known."""
    assessment = assess(answers_with(**changes))
    met = [rule_id for rule_id in assessment.reasons if rule_id in POINTS]
    assert assessment.score == sum(POINTS[rule_id] for rule_id in met)
    assert 0 <= assessment.score <= 100
    assert sorted(met + list(assessment.unmet)) == sorted(CORE_IDS)
    assert set(assessment.reasons) | set(assessment.cautions) | set(assessment.unmet) <= ALL_IDS
    assert set(assessment.cautions) <= {*PROMPT_IDS, *CAUTION_IDS}
    assert assessment.holds == tuple(rule_id for rule_id in HOLD_IDS if rule_id in assessment.cautions)
    assert assessment.cook_score is not None and 0 <= assessment.cook_score <= 5
    assert assessment.rule_version == RULE_VERSION


# --- output -------------------------------------------------------------------------------------


def test_rule_version() -> None:
    assert RULE_VERSION == "2026.2"
    assert assess(BASE_ANSWERS).rule_version == "2026.2"


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param(BASE_ANSWERS, id="base"),
        pytest.param(answers_with(red_flags=["fever", "weight_loss"], age=81), id="emergency"),
        pytest.param(answers_with(had_mri="no", mri_findings=None, blood_thinners=["aspirin"], **THINNER_KEPT),
                     id="possible"),
        pytest.param(answers_with(leg_symptoms="none", pain_when_seated="yes"), id="unlikely"),
    ],
)
def test_deterministic_and_round_trips(answers: dict[str, Any]) -> None:
    first = assess(answers)
    second = assess(answers)
    assert first == second
    assert first.to_dict() == second.to_dict()
    assert Assessment.from_dict(first.to_dict()) == first
    assert Assessment.from_dict(json.loads(json.dumps(first.to_dict()))) == first


def test_assess_does_not_mutate_its_input() -> None:
    answers = answers_with(mri_findings=["thick_ligament", "stenosis"])
    before = json.dumps(answers, sort_keys=True)
    assess(answers)
    assert json.dumps(answers, sort_keys=True) == before


def test_list_order_does_not_change_the_assessment() -> None:
    ordered = answers_with(red_flags=["cancer_history", "weight_loss"], blood_thinners=["aspirin", "not_sure"],
                           **THINNER_KEPT)
    shuffled = answers_with(red_flags=["weight_loss", "cancer_history"], blood_thinners=["not_sure", "aspirin"],
                            **THINNER_KEPT)
    assert assess(ordered) == assess(shuffled)


def test_to_dict_carries_every_text() -> None:
    answers = answers_with(
        red_flags=["fever", "recent_injury"],
        walking_limit="over_30_min",
        pain_score=3,
        blood_thinners=["not_sure"],
        thinner_hold_risk="not_sure",
        pain_when_seated="yes",
    )
    assessment = assess(answers)
    data = assessment.to_dict()
    assert data["reasons"] and data["unmet"] and data["cautions"]

    assert data["category"] == assessment.category.value == "emergency"
    assert data["score"] == assessment.score
    assert data["cook_score"] == assessment.cook_score
    assert data["rule_version"] == "2026.2"
    assert data["complete"] is True
    assert data["holds"] == list(assessment.holds) == ["P2", "K9"]
    assert data["reasons"] == list(assessment.reasons)
    assert data["unmet"] == list(assessment.unmet)
    assert data["cautions"] == list(assessment.cautions)

    assert set(data["texts"]) == set(assessment.reasons) | set(assessment.cautions)
    for rule_id, text in data["texts"].items():
        assert text == {"patient": RULE_TEXTS[rule_id].patient, "staff": RULE_TEXTS[rule_id].staff}
        assert text["patient"].strip() and text["staff"].strip()

    assert set(data["unmet_texts"]) == set(assessment.unmet)
    for rule_id, text in data["unmet_texts"].items():
        assert text["patient"] == UNMET_TEXTS[rule_id]
        assert RULE_TEXTS[rule_id].staff in text["staff"]
        assert text["patient"].strip()

    json.dumps(data)  # JSON-ready


def test_every_rule_has_texts() -> None:
    assert set(RULE_TEXTS) == ALL_IDS | {"U3"}  # U3 keeps its words for results made under 2026.1
    assert set(UNMET_TEXTS) == set(CORE_IDS)
    for rule_id, text in RULE_TEXTS.items():
        assert text.patient.strip(), rule_id
        assert text.staff.strip(), rule_id
        assert text.source.strip(), rule_id


def test_blood_thinner_text_never_says_stop() -> None:
    patient = RULE_TEXTS["K1"].patient.lower()
    assert "keep taking" in patient
    assert "stop taking" not in patient


def test_ids_by_kind() -> None:
    assessment = assess(
        answers_with(red_flags=["fever", "weight_loss"], walking_limit="over_30_min", blood_thinners=["aspirin"],
                     **THINNER_KEPT)
    )
    assert assessment.ids("E") == ("E1",)
    assert assessment.ids("U") == ("U4",)
    assert assessment.ids("C") == ("C1", "C2", "C3", "C4", "C6", "C7")
    assert assessment.ids("P") == ("P3",)
    assert assessment.ids("K") == ("K1",)
    kinds = assessment.ids("E") + assessment.ids("U") + assessment.ids("C")
    assert kinds == assessment.reasons


def test_an_assessment_stored_under_2026_1_reads_back_with_no_holds() -> None:
    stored = {"category": "unlikely", "score": 75, "cook_score": 5, "rule_version": "2026.1",
              "reasons": ["U3", "C1", "C2", "C3", "C5", "C6", "C7"], "unmet": ["C4"], "cautions": []}
    old = Assessment.from_dict(stored)
    assert (old.rule_version, old.holds, old.complete) == ("2026.1", (), True)
    assert old.explain(("U3",))[0].patient == RULE_TEXTS["U3"].patient


# --- properties (spec section 3, "Category") ----------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional={question.field: values_for(question) for question in QUESTIONS}))
def test_a_hold_never_lets_a_result_be_likely_and_only_e1_makes_an_emergency(drawn: dict[str, Any]) -> None:
    try:
        assessment = assess({**BASE_ANSWERS, **drawn})
    except InvalidAnswers:
        return
    if assessment.holds:
        assert assessment.category is not Category.LIKELY
        if not {"E1", *AGAINST_IDS} & set(assessment.reasons):
            assert assessment.category is Category.POSSIBLE
    assert (assessment.category is Category.EMERGENCY) is ("E1" in assessment.reasons)
