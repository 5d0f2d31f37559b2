"""Which questionnaire page comes next, decided on the server from the answers so far. No Flask."""

from __future__ import annotations

from app.screening.questions import BY_FIELD, PAGE_BY_SLUG, PAGES, Answers, Page
from app.screening.validation import check_answer


class UnknownPage(LookupError):
    """No questionnaire page has this slug."""


def get_page(slug: str) -> Page:
    """The page called ``slug``; raise UnknownPage otherwise."""
    try:
        return PAGE_BY_SLUG[slug]
    except KeyError:
        raise UnknownPage(slug) from None


def shown_pages(answers: Answers) -> list[Page]:
    """The pages that apply to these answers, in order."""
    return [page for page in PAGES if page.is_shown(answers)]


def is_complete(page: Page, answers: Answers) -> bool:
    """Whether every question on ``page`` that applies has a valid answer."""
    return all(
        check_answer(BY_FIELD[name], answers.get(name)) is None
        for name in page.fields
        if BY_FIELD[name].is_asked(answers)
    )


def first_incomplete(answers: Answers) -> Page | None:
    """The first page that still needs answers, or None when the questionnaire is complete."""
    return next((page for page in shown_pages(answers) if not is_complete(page, answers)), None)


def next_page(page: Page, answers: Answers) -> Page | None:
    """The page after ``page`` for these answers, or None when ``page`` is the last."""
    pages = shown_pages(answers)
    later = PAGES[PAGES.index(page) + 1:]
    return next((p for p in later if p in pages), None)


def previous_page(page: Page, answers: Answers) -> Page | None:
    """The page before ``page`` for these answers, or None when ``page`` is the first."""
    pages = shown_pages(answers)
    earlier = PAGES[: PAGES.index(page)]
    return next((p for p in reversed(earlier) if p in pages), None)


def blocking_page(page: Page, answers: Answers) -> Page | None:
    """An earlier page that must be answered before ``page`` can be shown, if any.

    The first incomplete page when it comes before ``page`` (``first_incomplete``), found by checking only
    the pages before it: every question page's view asks this.
    """
    earlier = PAGES[: PAGES.index(page)]
    return next((p for p in earlier if p.is_shown(answers) and not is_complete(p, answers)), None)
