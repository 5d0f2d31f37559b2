"""Plain language: every patient page's main text reads at US school grade 8 or below (Flesch–Kincaid).

The grade is computed by textstat over the text of the page's <main> element, in English. The Spanish pages
get textstat's Fernández-Huerta reading ease too (higher is easier; 70 and above is "fairly easy"), printed
for review; there is no threshold for it. Both tables are printed in the test output, also with -q.
"""

from __future__ import annotations

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
