"""The questionnaire, as data: steps, pages, questions, codes and plain-language labels.

This is the one definition of the questions (spec section 2, rule set 2026.1). The patient forms, the
check-answers page, validation, the rules and any export are generated from it, so they cannot drift.
Codes are what is stored; a patient only ever sees labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from app.platform.i18n_marker import N_

Answers = Mapping[str, Any]


class Kind(StrEnum):
    """How an answer is shaped."""

    SINGLE = "single"  # one code, radio buttons
    MULTI = "multi"  # a list of codes, checkboxes
    YESNO = "yesno"  # the strings "yes" or "no"
    INTEGER = "integer"  # a whole number in [minimum, maximum]


@dataclass(frozen=True)
class Option:
    """One answer code and what the patient reads for it."""

    code: str
    label: str
    hint: str | None = None


@dataclass(frozen=True)
class Question:
    """One field of the questionnaire."""

    field: str
    step: str
    kind: Kind
    text: str
    summary: str  # short label for the check-answers page
    required_message: str  # what to do when it is left blank
    options: tuple[Option, ...] = ()
    hint: str | None = None
    exclusive: frozenset[str] = frozenset()  # codes that must be the only one chosen
    minimum: int | None = None
    maximum: int | None = None
    applies: Callable[[Answers], bool] | None = None  # None: always asked
    applies_when: str | None = None  # the condition in words, for codebooks
    input_width: int = 3  # characters, for integer inputs
    invalid_message: str | None = None  # integers: what to do when it is not a whole number in range
    scale: tuple[str, str] | None = None  # integers asked as a row of choices: the words at each end
    # The wording for someone who said they have no leg or buttock symptoms (same field, code and rules):
    back_only_text: str | None = None
    back_only_required: str | None = None

    @cached_property  # read for every answer checked: the rules run it ~20 times an assessment
    def codes(self) -> tuple[str, ...]:
        """The valid codes, in display order."""
        return tuple(option.code for option in self.options)

    @cached_property
    def code_set(self) -> frozenset[str]:
        """The valid codes as a set, for membership tests."""
        return frozenset(self.codes)

    def label_for(self, code: str) -> str:
        """The patient-facing label of ``code`` (the code itself if unknown)."""
        for option in self.options:
            if option.code == code:
                return option.label
        return code

    def is_asked(self, answers: Answers) -> bool:
        """Whether this question applies, given the other answers."""
        return self.applies is None or self.applies(answers)

    def text_for(self, answers: Answers) -> str:
        """The question as asked of this patient: worded for back pain alone when they have no leg symptoms."""
        return self.back_only_text if self.back_only_text and back_only(answers) else self.text

    def required_for(self, answers: Answers) -> str:
        """What to do when this question is left blank, in the same wording as ``text_for``."""
        return self.back_only_required if self.back_only_required and back_only(answers) else self.required_message


def back_only(answers: Answers) -> bool:
    """Whether the patient said they have no symptoms in their buttocks or legs (their problem is back pain)."""
    return answers.get("leg_symptoms") == "none"


@dataclass(frozen=True)
class Page:
    """One questionnaire page: a whole step, or the follow-up to a step's conditional question."""

    slug: str
    step: str
    title: str
    fields: tuple[str, ...]
    intro: str | None = None
    applies: Callable[[Answers], bool] | None = None

    def is_shown(self, answers: Answers) -> bool:
        """Whether this page applies, given the answers so far."""
        return self.applies is None or self.applies(answers)


YES_NO = (Option("yes", N_("Yes")), Option("no", N_("No")))
TRIED = (
    Option("no", N_("No, I have not tried this")),
    Option("yes_helped", N_("Yes, and it helped")),
    Option("yes_no_lasting_relief", N_("Yes, but it did not give lasting relief")),
)
TRIED_FIELDS = ("tried_pt", "tried_injections", "tried_medications")


def tried_any(answers: Answers) -> bool:
    """``conservative_duration`` applies when any treatment was tried."""
    return any(answers.get(name) not in (None, "no") for name in TRIED_FIELDS)


def had_back_surgery(answers: Answers) -> bool:
    """``prior_surgery_type`` applies after back surgery."""
    return answers.get("prior_back_surgery") == "yes"


# The blood_thinners answers after which the patient is asked whether the medicine may be stopped.
THINNER_CODES = frozenset({"aspirin", "antiplatelet", "anticoagulant", "not_sure"})
_THINNER_ANSWERS = THINNER_CODES | {"none"}


def takes_thinner(answers: Answers) -> bool:
    """``thinner_hold_risk`` applies when the patient takes, or may take, a blood thinner."""
    named = answers.get("blood_thinners")
    # Asked before the answers are validated: only a list of known codes without "none" names a blood thinner
    # (with "none" it is either "none" alone or invalid: an exclusive code with others).
    if not isinstance(named, list | tuple) or not all(type(code) is str and code in _THINNER_ANSWERS for code in named):
        return False
    return "none" not in named and bool(THINNER_CODES.intersection(named))


def had_imaging(answers: Answers) -> bool:
    """``mri_findings`` applies when ``had_mri`` starts with ``yes``."""
    return str(answers.get("had_mri") or "").startswith("yes")


STEPS: tuple[str, ...] = ("safety", "symptoms", "treatments", "imaging", "health")
STEP_TITLES: dict[str, str] = {
    "safety": N_("Urgent warning signs"),
    "symptoms": N_("Your symptoms"),
    "treatments": N_("Treatments you have tried"),
    "imaging": N_("Scans of your back"),
    "health": N_("Your general health"),
}

QUESTIONS: tuple[Question, ...] = (
    # --- safety -------------------------------------------------------------------------------
    Question(
        field="red_flags",
        step="safety",
        kind=Kind.MULTI,
        text=N_("Do you have any of these problems now?"),
        summary=N_("Urgent warning signs"),
        hint=N_("Select all that apply."),
        required_message=N_("Select the problems you have, or select ‘None of these’"),
        options=(
            Option("bladder_bowel", N_("New trouble holding your urine or bowels, or new trouble passing urine")),
            Option("saddle_numbness", N_("New numbness in your groin, genitals, buttocks or inner thighs")),
            Option("worsening_weakness", N_("Weakness in a leg or foot that is getting worse"),
                   N_("For example, your foot drags or slaps the ground, or you have started to fall.")),
            Option("fever", N_("Fever or chills along with your back pain")),
            Option("cancer_history", N_("Back pain that started after you were told you have cancer")),
            Option("recent_injury", N_("Your pain began after a fall, accident or injury in the last 3 months")),
            Option("weight_loss", N_("You have lost weight without trying in the last 3 months")),
            Option("none", N_("None of these")),
        ),
        exclusive=frozenset({"none"}),
    ),
    # --- symptoms -----------------------------------------------------------------------------
    Question(
        field="leg_symptoms",
        step="symptoms",
        kind=Kind.SINGLE,
        text=N_("Do you have pain, numbness, tingling, weakness or heaviness in your buttocks or legs?"),
        summary=N_("Symptoms in buttocks or legs"),
        required_message=N_("Select if you have symptoms in your buttocks or legs"),
        options=(
            Option("none", N_("No")),
            Option("one_side", N_("Yes, on one side")),
            Option("both_sides", N_("Yes, on both sides")),
        ),
    ),
    Question(
        field="worse_standing_walking",
        step="symptoms",
        kind=Kind.YESNO,
        text=N_("Do your symptoms start or get worse when you stand or walk?"),
        summary=N_("Worse when standing or walking"),
        required_message=N_("Select yes if your symptoms start or get worse when you stand or walk"),
        back_only_text=N_("Does your back pain start or get worse when you stand or walk?"),
        back_only_required=N_("Select yes if your back pain starts or gets worse when you stand or walk"),
        options=YES_NO,
    ),
    Question(
        field="relief_sitting_bending",
        step="symptoms",
        kind=Kind.YESNO,
        text=N_("Do your symptoms ease when you sit down or bend forward?"),
        summary=N_("Better when sitting or bending forward"),
        hint=N_("For example, when you lean on a shopping cart."),
        required_message=N_("Select yes if your symptoms ease when you sit down or bend forward"),
        back_only_text=N_("Does your back pain ease when you sit down or bend forward?"),
        back_only_required=N_("Select yes if your back pain eases when you sit down or bend forward"),
        options=YES_NO,
    ),
    Question(
        field="pain_when_seated",
        step="symptoms",
        kind=Kind.YESNO,
        text=N_("Do you have leg pain even while you are sitting?"),
        summary=N_("Leg pain while sitting"),
        required_message=N_("Select yes if you have leg pain even while sitting"),
        options=YES_NO,
    ),
    Question(
        field="walking_limit",
        step="symptoms",
        kind=Kind.SINGLE,
        text=N_("How long can you walk before you have to stop or sit down?"),
        summary=N_("How long you can walk"),
        hint=N_("If you use a cane or walker, answer for walking with it."),
        required_message=N_("Select how long you can walk before you have to stop"),
        options=(
            Option("cannot_walk", N_("I cannot walk about 10 steps, even with a cane or walker")),
            Option("under_5_min", N_("Less than 5 minutes")),
            Option("5_to_15_min", N_("5 to 15 minutes")),
            Option("15_to_30_min", N_("15 to 30 minutes")),
            Option("over_30_min", N_("More than 30 minutes")),
        ),
    ),
    Question(
        field="main_pain",
        step="symptoms",
        kind=Kind.SINGLE,
        text=N_("Which bothers you more?"),
        summary=N_("What bothers you more"),
        required_message=N_("Select which bothers you more"),
        options=(
            Option("legs", N_("My legs or buttocks")),
            Option("back", N_("My back")),
            Option("both_equal", N_("Both the same")),
        ),
    ),
    Question(
        field="symptom_duration",
        step="symptoms",
        kind=Kind.SINGLE,
        text=N_("How long have you had these symptoms?"),
        summary=N_("How long you have had symptoms"),
        required_message=N_("Select how long you have had these symptoms"),
        back_only_text=N_("How long have you had your back pain?"),
        back_only_required=N_("Select how long you have had your back pain"),
        options=(
            Option("under_3_months", N_("Less than 3 months")),
            Option("3_to_6_months", N_("3 to 6 months")),
            Option("6_to_12_months", N_("6 months to 1 year")),
            Option("over_12_months", N_("More than 1 year")),
        ),
    ),
    Question(
        field="pain_score",
        step="symptoms",
        kind=Kind.INTEGER,
        text=N_("On average over the past week, how bad was your back or leg pain?"),
        summary=N_("Average pain (0 to 10)"),
        hint=N_("0 means no pain. 10 means the worst pain you can imagine."),
        required_message=N_("Select a number from 0 to 10 for your pain"),
        invalid_message=N_("Pain must be a whole number from 0 to 10"),
        minimum=0,
        maximum=10,
        scale=(N_("No pain"), N_("The worst pain you can imagine")),
    ),
    Question(
        field="age",
        step="symptoms",
        kind=Kind.INTEGER,
        text=N_("How old are you?"),
        summary=N_("Age"),
        hint=N_("In years, for example 72."),
        required_message=N_("Enter your age in years"),
        invalid_message=N_("Age must be a whole number from 18 to 120, like 72"),
        minimum=18,
        maximum=120,
    ),
    # --- treatments ---------------------------------------------------------------------------
    Question(
        field="tried_pt",
        step="treatments",
        kind=Kind.SINGLE,
        text=N_("Have you tried physical therapy? This includes exercises at home."),
        summary=N_("Physical therapy or exercises"),
        required_message=N_("Select if you have tried physical therapy"),
        options=TRIED,
    ),
    Question(
        field="tried_injections",
        step="treatments",
        kind=Kind.SINGLE,
        text=N_("Have you had steroid injections in your spine?"),
        summary=N_("Spine injections"),
        hint=N_("They are also called epidural shots."),
        required_message=N_("Select if you have had steroid injections in your spine"),
        options=TRIED,
    ),
    Question(
        field="tried_medications",
        step="treatments",
        kind=Kind.SINGLE,
        text=N_("Have you tried pain medicines?"),
        summary=N_("Pain medicines"),
        hint=N_("For example ibuprofen, naproxen or gabapentin."),
        required_message=N_("Select if you have tried pain medicines"),
        options=TRIED,
    ),
    Question(
        field="prior_back_surgery",
        step="treatments",
        kind=Kind.YESNO,
        text=N_("Have you ever had surgery on your lower back?"),
        summary=N_("Surgery on lower back"),
        required_message=N_("Select yes if you have had surgery on your lower back"),
        options=YES_NO,
    ),
    Question(
        field="conservative_duration",
        step="treatments",
        kind=Kind.SINGLE,
        text=N_("In total, how long have you been trying these treatments?"),
        summary=N_("How long you have tried treatments"),
        required_message=N_("Select how long you have been trying these treatments"),
        options=(
            Option("under_3_months", N_("Less than 3 months")),
            Option("3_months_or_more", N_("3 months or more")),
        ),
        applies=tried_any,
        applies_when="any of tried_pt, tried_injections, tried_medications is not 'no'",
    ),
    Question(
        field="prior_surgery_type",
        step="treatments",
        kind=Kind.SINGLE,
        text=N_("What kind of back surgery did you have?"),
        summary=N_("Kind of back surgery"),
        hint=N_("If you had more than one, choose the most recent."),
        required_message=N_("Select what kind of back surgery you had, or select ‘I’m not sure’"),
        options=(
            Option("decompression", N_("Surgery to make more room for the nerves"),
                   N_("This is called a laminectomy or laminotomy.")),
            Option("fusion", N_("Surgery to join bones with rods or screws"), N_("This is called a fusion.")),
            Option("disc", N_("Surgery to remove part of a disc"), N_("This is called a discectomy.")),
            Option("other", N_("Some other kind of surgery")),
            Option("not_sure", N_("I’m not sure")),
        ),
        applies=had_back_surgery,
        applies_when="prior_back_surgery is 'yes'",
    ),
    # --- imaging ------------------------------------------------------------------------------
    Question(
        field="had_mri",
        step="imaging",
        kind=Kind.SINGLE,
        text=N_("Have you had an MRI or CT scan of your lower back?"),
        summary=N_("MRI or CT scan"),
        required_message=N_("Select if you have had an MRI or CT scan of your lower back"),
        options=(
            Option("yes_last_12_months", N_("Yes, in the last 12 months")),
            Option("yes_older", N_("Yes, more than 12 months ago")),
            Option("no", N_("No")),
            Option("not_sure", N_("I’m not sure")),
        ),
    ),
    Question(
        field="mri_findings",
        step="imaging",
        kind=Kind.MULTI,
        text=N_("What did the scan report say?"),
        summary=N_("What the scan showed"),
        hint=N_("Select all that apply. If you do not know, select ‘I’m not sure’."),
        required_message=N_("Select what the scan showed, or select ‘I’m not sure’"),
        options=(
            Option("stenosis", N_("Narrowing of the spinal canal"), N_("This is called spinal stenosis.")),
            Option("thick_ligament", N_("A thick or enlarged ligament"),
                   N_("The report may call it the ligamentum flavum.")),
            Option("bone_spurs", N_("Bone spurs")),
            Option("disc_herniation", N_("A herniated or bulging disc")),
            Option("slipped_vertebra", N_("A slipped bone in the spine"), N_("This is called spondylolisthesis.")),
            Option("instability", N_("An unstable spine")),
            Option("not_sure", N_("I’m not sure")),
        ),
        exclusive=frozenset({"not_sure"}),
        applies=had_imaging,
        applies_when="had_mri starts with 'yes'",
    ),
    # --- health -------------------------------------------------------------------------------
    Question(
        field="blood_thinners",
        step="health",
        kind=Kind.MULTI,
        text=N_("Do you take any medicine that thins your blood?"),
        summary=N_("Blood thinners"),
        hint=N_("Select all that apply."),
        required_message=N_("Select the blood thinners you take, or select ‘I do not take a blood thinner’"),
        options=(
            Option("aspirin", N_("Aspirin"), N_("Count a daily low-dose aspirin too (baby aspirin, 81 mg).")),
            Option("antiplatelet", N_("A medicine that stops blood cells sticking"),
                   N_("For example clopidogrel (Plavix), prasugrel (Effient), ticagrelor (Brilinta), cilostazol "
                   "(Pletal) or dipyridamole (Aggrenox).")),
            Option("anticoagulant", N_("A medicine that stops blood clotting"),
                   N_("For example warfarin (Coumadin, Jantoven), apixaban (Eliquis), rivaroxaban (Xarelto), "
                   "dabigatran (Pradaxa) or edoxaban (Savaysa), or shots such as enoxaparin (Lovenox), heparin "
                   "or fondaparinux (Arixtra).")),
            Option("not_sure", N_("I’m not sure")),
            Option("none", N_("I do not take a blood thinner")),
        ),
        exclusive=frozenset({"none"}),
    ),
    Question(
        field="thinner_hold_risk",
        step="health",
        kind=Kind.SINGLE,
        text=N_("Has a doctor told you that this medicine must not be stopped, even for a few days?"),
        summary=N_("Blood thinner must not be stopped"),
        hint=N_("For example because of a heart stent in the last 12 months, a mechanical heart valve, or a "
                "blood clot in the last 3 months. Do not stop any medicine because of this form."),
        required_message=N_("Select if a doctor has told you that this medicine must not be stopped"),
        options=(Option("yes", N_("Yes")), Option("no", N_("No")), Option("not_sure", N_("I’m not sure"))),
        applies=takes_thinner,
        applies_when="blood_thinners has aspirin, antiplatelet, anticoagulant or not_sure",
    ),
    Question(
        field="bleeding_disorder",
        step="health",
        kind=Kind.SINGLE,
        text=N_("Do you have a bleeding problem?"),
        summary=N_("Bleeding problem"),
        hint=N_("For example, you bleed for a long time or bruise very easily."),
        required_message=N_("Select if you have a bleeding problem"),
        options=(Option("yes", N_("Yes")), Option("no", N_("No")), Option("not_sure", N_("I’m not sure"))),
    ),
    Question(
        field="can_lie_prone",
        step="health",
        kind=Kind.SINGLE,
        text=N_("Could you lie on your stomach on a padded table for about an hour?"),
        summary=N_("Can lie on stomach for an hour"),
        required_message=N_("Select if you could lie on your stomach for about an hour"),
        options=(Option("yes", N_("Yes")), Option("no", N_("No")), Option("not_sure", N_("I’m not sure"))),
    ),
    Question(
        field="sedation_problems",
        step="health",
        kind=Kind.YESNO,
        text=N_("Have you ever had a bad problem with sedation?"),
        summary=N_("Problem with sedation before"),
        hint=N_("Sedation is medicine that makes you sleepy for a procedure. Anesthesia can also numb you."),
        required_message=N_("Select yes if you have had a bad problem with sedation"),
        options=YES_NO,
    ),
    Question(
        field="vascular_disease",
        step="health",
        kind=Kind.SINGLE,
        text=N_("Has a doctor told you that you have poor blood flow in your legs?"),
        summary=N_("Poor blood flow in legs"),
        hint=N_("This is sometimes called peripheral artery disease."),
        required_message=N_("Select if a doctor has told you that you have poor blood flow in your legs"),
        options=(Option("yes", N_("Yes")), Option("no", N_("No")), Option("not_sure", N_("I’m not sure"))),
    ),
)

BY_FIELD: dict[str, Question] = {q.field: q for q in QUESTIONS}

# Conditional questions get a page of their own, shown only when they apply: the server decides
# what is asked, so the flow works the same with JavaScript off.
PAGES: tuple[Page, ...] = (
    Page("safety", "safety", N_("Urgent warning signs"), ("red_flags",),
         intro=N_("Some back problems need help straight away. Tell us if you have any of these.")),
    # The symptoms step is four short pages. The standing-and-walking questions come after the leg question,
    # on a page of their own, so their wording can follow its answer (back_only) without JavaScript.
    Page("symptoms", "symptoms", N_("Your symptoms"), ("leg_symptoms", "main_pain")),
    Page("standing-and-walking", "symptoms", N_("Standing and walking"),
         ("worse_standing_walking", "relief_sitting_bending", "pain_when_seated", "walking_limit")),
    Page("pain", "symptoms", N_("Your pain"), ("symptom_duration", "pain_score")),
    Page("age", "symptoms", N_("Your age"), ("age",)),
    Page("treatments", "treatments", N_("Treatments you have tried"),
         ("tried_pt", "tried_injections", "tried_medications", "prior_back_surgery")),
    Page("treatment-time", "treatments", N_("How long you have tried treatments"),
         ("conservative_duration",), applies=tried_any),
    Page("surgery-type", "treatments", N_("Your back surgery"), ("prior_surgery_type",), applies=had_back_surgery),
    Page("imaging", "imaging", N_("Scans of your back"), ("had_mri",)),
    Page("scan-results", "imaging", N_("What your scan showed"), ("mri_findings",), applies=had_imaging),
    Page("health", "health", N_("Your general health"),
         ("blood_thinners", "bleeding_disorder", "can_lie_prone", "sedation_problems", "vascular_disease")),
    Page("blood-thinner", "health", N_("Your blood thinner"), ("thinner_hold_risk",), applies=takes_thinner),
)

PAGE_BY_SLUG: dict[str, Page] = {page.slug: page for page in PAGES}


def _check_definitions() -> None:
    """Fail at import if the pages and questions disagree (a field on no page, or on two)."""
    on_pages = [name for page in PAGES for name in page.fields]
    if sorted(on_pages) != sorted(BY_FIELD):
        raise RuntimeError("every question must be on exactly one page")
    if [q.step for q in QUESTIONS if q.step not in STEPS]:
        raise RuntimeError("every question must belong to a known step")


_check_definitions()


def applicable_questions(answers: Answers) -> list[Question]:
    """The questions that apply to these answers, in form order."""
    return [BY_FIELD[name] for page in PAGES for name in page.fields if BY_FIELD[name].is_asked(answers)]


def drop_inapplicable(answers: Answers) -> dict[str, Any]:
    """A copy of ``answers`` without the answers to questions that no longer apply."""
    return {
        name: value
        for name, value in answers.items()
        if name not in BY_FIELD or BY_FIELD[name].is_asked(answers)
    }


@dataclass(frozen=True)
class AnsweredQuestion:
    """A question with its answer in words, for summaries."""

    question: Question
    page: Page
    value: Any
    words: list[str] = field(default_factory=list)
    text: str = ""  # the question as this patient was asked it (Question.text_for)


def describe(answers: Answers) -> list[AnsweredQuestion]:
    """Every applicable question with its answer in patient words (for check pages and staff views)."""
    rows: list[AnsweredQuestion] = []
    for page in PAGES:
        if not page.is_shown(answers):
            continue
        for name in page.fields:
            question = BY_FIELD[name]
            value = answers.get(name)
            if question.kind is Kind.INTEGER:
                words = [] if value is None else [str(value)]
            elif question.kind is Kind.MULTI:
                words = [question.label_for(code) for code in (value or [])]
            else:
                words = [] if value is None else [question.label_for(value)]
            rows.append(AnsweredQuestion(question, page, value, words, question.text_for(answers)))
    return rows


def describe_by_step(answers: Answers) -> list[tuple[str, list[AnsweredQuestion]]]:
    """``describe`` grouped by step, with each step's title, in questionnaire order."""
    rows = describe(answers)
    return [(STEP_TITLES[step], [r for r in rows if r.page.step == step]) for step in STEPS]
