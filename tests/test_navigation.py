"""``blocking_page`` checks only the pages before the one asked for (issue 7); it must agree with its definition."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.screening.navigation import blocking_page, first_incomplete
from app.screening.questions import PAGES, QUESTIONS, Page
from tests.answers import BASE_ANSWERS, EVERY_PAGE_ANSWERS, values_for


def reference(page: Page, answers: dict[str, Any]) -> Page | None:
    """The definition: the first incomplete page of the whole questionnaire, when it comes before ``page``."""
    gap = first_incomplete(answers)
    return gap if gap is not None and PAGES.index(gap) < PAGES.index(page) else None


drawn = st.fixed_dictionaries({}, optional={question.field: values_for(question) for question in QUESTIONS})
answer_sets = st.one_of(drawn, drawn.map(lambda some: {**BASE_ANSWERS, **some}))


# Generation, not the check, is what a loaded machine slows (a health check failed once in CI): no time limits.
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_sets)
def test_blocking_page_agrees_with_its_definition(answers: dict[str, Any]) -> None:
    for page in PAGES:
        assert blocking_page(page, answers) == reference(page, answers), page.slug


def test_an_empty_draft_is_blocked_at_the_first_page_only() -> None:
    assert blocking_page(PAGES[0], {}) is None
    assert all(blocking_page(page, {}) == PAGES[0] for page in PAGES[1:])
    assert all(blocking_page(page, EVERY_PAGE_ANSWERS) is None for page in PAGES)
