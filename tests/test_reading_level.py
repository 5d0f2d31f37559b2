"""Plain language: every patient page, and every question, hint and caution on its own, at US grade 8 or below.

The grade is computed by textstat over the text of the page's <main> element, in English. The Spanish pages
get textstat's Fernández-Huerta reading ease too (higher is easier; 70 and above is "fairly easy"), printed
for review; there is no threshold for it. Both tables are printed in the test output, also with -q.
"""

from __future__ import annotations

import re

import pytest
import textstat
from flask import Flask

from tests.patient_pages import main_text, patient_pages

MAX_GRADE = 8.0


@pytest.fixture
def reading_stats() -> textstat.textstat:
    """A textstat instance of its own, so switching its language affects nothing else."""
    return textstat.textstat.__class__()


def _print_table(capsys: pytest.CaptureFixture[str], title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    with capsys.disabled():
        print(f"\n{title}")
        for name, value in rows:
            print(f"  {name:<{width}}  {value}")


def test_english_pages_read_at_grade_8_or_below(
    app: Flask, capsys: pytest.CaptureFixture[str], reading_stats: textstat.textstat
) -> None:
    reading_stats.set_lang("en_US")
    pages = patient_pages(app, "en")
    grades = {name: reading_stats.flesch_kincaid_grade(main_text(html)) for name, html in pages.items()}
    _print_table(capsys, "Flesch–Kincaid grade of each patient page's <main> text (English, must be <= 8):",
                 [(name, f"{grade:5.1f}") for name, grade in grades.items()])
    too_hard = {name: grade for name, grade in grades.items() if grade > MAX_GRADE}
    assert not too_hard, f"pages above grade {MAX_GRADE}: {too_hard}"


def test_spanish_reading_ease_is_reported(
    app: Flask, capsys: pytest.CaptureFixture[str], reading_stats: textstat.textstat
) -> None:
    reading_stats.set_lang("es")
    pages = patient_pages(app, "es")
    scores = {name: reading_stats.fernandez_huerta(main_text(html)) for name, html in pages.items()}
    _print_table(capsys, "Fernández-Huerta reading ease of each patient page's <main> text (Spanish, higher = easier):",
                 [(name, f"{score:5.1f}") for name, score in scores.items()])
    assert all(score > 0 for score in scores.values())


# Names a patient may have been told or read on a label; the grade measures the words around them.
DRUG_NAMES = (
    "ibuprofen", "naproxen", "gabapentin", "aspirin", "clopidogrel", "Plavix", "prasugrel", "Effient", "ticagrelor",
    "Brilinta", "cilostazol", "Pletal", "dipyridamole", "Aggrenox", "warfarin", "Coumadin", "Jantoven", "apixaban",
    "Eliquis", "rivaroxaban", "Xarelto", "dabigatran", "Pradaxa", "edoxaban", "Savaysa", "enoxaparin", "Lovenox",
    "heparin", "fondaparinux", "Arixtra",
)
# Condition and procedure names, given beside the plain words so a patient recognises what they were told.
MEDICAL_NAMES = ("peripheral artery disease", "spondylolisthesis", "ligamentum flavum", "spinal stenosis",
                 "laminectomy", "laminotomy", "discectomy")


def _items() -> list[tuple[str, str]]:
    """Every question, hint, option and message, every rule's patient text and every checklist item (English)."""
    from app.intake.contact import ALL_CHOICES
    from app.platform.clinic_content import load_content
    from app.screening.checklist import CAUTION_ITEMS, NO_SCAN_ITEMS
    from app.screening.questions import QUESTIONS
    from app.screening.texts import RULE_TEXTS, UNMET_NO_SCAN_TEXTS, UNMET_TEXTS

    items: list[tuple[str, str]] = []
    for question in QUESTIONS:
        for kind, text in (("text", question.text), ("hint", question.hint),
                           ("required", question.required_message), ("invalid", question.invalid_message),
                           ("back-only text", question.back_only_text),
                           ("back-only required", question.back_only_required),
                           *(("scale end", end) for end in question.scale or ())):
            if text:
                items.append((f"{question.field} {kind}", str(text)))
        for option in question.options:
            items.append((f"{question.field}={option.code}", str(option.label)))
            if option.hint:
                items.append((f"{question.field}={option.code} hint", str(option.hint)))
    items += [(f"{rule_id} patient", str(text.patient)) for rule_id, text in RULE_TEXTS.items() if rule_id != "U3"]
    items += [(f"{rule_id} unmet", str(text)) for rule_id, text in UNMET_TEXTS.items()]
    items += [(f"{caution} checklist", str(text)) for caution, text in CAUTION_ITEMS.items()]
    items += [(f"{caution} checklist, no scan", str(text)) for caution, text in NO_SCAN_ITEMS.items()]
    items += [(f"{rule_id} unmet, no scan", str(text)) for rule_id, text in UNMET_NO_SCAN_TEXTS.items()]
    items += [(f"{name}={option.code}", str(option.label)) for name, options in ALL_CHOICES.items()
              for option in options]
    content = load_content(None, ("en",))["en"]
    items += [(f"clinic content {section}", line) for section in ("before", "during", "after")
              for line in getattr(content, section)]
    return items


def _without_names(text: str) -> str:
    for name in (*MEDICAL_NAMES, *DRUG_NAMES):
        text = re.sub(rf"\b{re.escape(name)}\b", "", text, flags=re.IGNORECASE)
    return re.sub(r"\(\s*[,\s]*\)", "", text)


def test_every_question_hint_and_caution_reads_at_grade_8_or_below(reading_stats: textstat.textstat) -> None:
    reading_stats.set_lang("en_US")
    too_hard = {}
    for name, text in _items():
        plain = _without_names(text)
        if len(re.findall(r"[^\W\d_]+", plain)) < 3:  # a lone name or a word or two (any script): no grade
            continue
        grade = reading_stats.flesch_kincaid_grade(plain)
        if grade > MAX_GRADE:
            too_hard[name] = (round(grade, 1), text)
    assert not too_hard, too_hard
