"""Kept renderings (app/public/question_html.py): a question is what its macro renders, a page what Jinja does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, get_template_attribute, session
from markupsafe import Markup

from app.public.forms import form_class
from app.public.question_html import question_html
from app.screening.questions import BY_FIELD, PAGES, Kind, Question
from tests.journey import answer_all, csrf_token


def _answers(question: Question) -> Iterator[Any]:
    """Nothing, then each answer a patient can give on its own (and two codes at once for checkboxes)."""
    yield None
    if question.kind is Kind.INTEGER:
        yield from (question.minimum, question.maximum)
        return
    for code in question.codes:
        yield [code] if question.kind is Kind.MULTI else code
    if question.kind is Kind.MULTI:
        yield [code for code in question.codes if code not in question.exclusive][:2]


def _macro(field: Any, text: str) -> Markup:
    html: Markup = get_template_attribute("macros/fields.html", "question")(field, BY_FIELD[field.name], text)
    assert isinstance(html, Markup)  # the macro escaped its text
    return html


def _render_both(app: Flask, lang: str, name: str, answer: Any,
                 earlier: dict[str, Any] | None = None) -> tuple[Markup, Markup]:
    """(kept, fresh) renderings of one question; ``earlier`` answers decide its wording."""
    page = next(page for page in PAGES if name in page.fields)
    earlier = earlier or {}
    with app.test_request_context(f"/questions/{page.slug}"):
        session["lang"] = lang
        field = form_class(page)(data={name: answer})[name]
        return question_html(field, earlier), _macro(field, BY_FIELD[name].text_for(earlier))


def test_every_question_and_answer_matches_the_macro_in_both_languages(app: Flask) -> None:
    # The second pass reads from a cache that every other answer and the other language have filled: a
    # kept rendering must never leak into another answer or language.
    for _ in range(2):
        for lang in ("en", "es"):
            for name, question in BY_FIELD.items():
                for answer in _answers(question):
                    for earlier in ({}, {"leg_symptoms": "none"}):
                        kept, fresh = _render_both(app, lang, name, answer, earlier)
                        assert kept == fresh, (name, answer, lang, earlier)


def test_the_cache_keeps_languages_apart(app: Flask) -> None:
    english, _ = _render_both(app, "en", "red_flags", None)
    spanish, _ = _render_both(app, "es", "red_flags", None)
    assert english != spanish
    assert _render_both(app, "en", "red_flags", None)[0] == english


def test_the_cache_keeps_wordings_apart(app: Flask) -> None:
    legs, _ = _render_both(app, "en", "worse_standing_walking", "yes", {"leg_symptoms": "both_sides"})
    back, _ = _render_both(app, "en", "worse_standing_walking", "yes", {"leg_symptoms": "none"})
    assert "Do your symptoms start or get worse" in legs
    assert "Does your back pain start or get worse" in back


def test_a_field_with_an_error_or_posted_data_is_rendered_afresh(app: Flask) -> None:
    page = PAGES[0]
    name = page.fields[0]
    with app.test_request_context(f"/questions/{page.slug}", method="POST", data={name: "not-a-code"}):
        form = form_class(page)(meta={"csrf": False})
        form.validate()
        field = form[name]
        assert field.errors
        html = question_html(field, {})
        assert html == _macro(field, BY_FIELD[name].text)
        assert 'class="error-message"' in html


# --- nothing a request carries reaches another patient's page ----------------------------------------------


def _language_links(html: str) -> list[str]:
    return re.findall(r'href="(/language/[^"]+)"', html)


def test_a_request_parameter_does_not_change_what_other_patients_are_served(app: Flask) -> None:
    first = app.test_client()
    answer_all(first, {"red_flags": ["none"]})
    # One patient comes back from the check page (?return=check): their links keep it, as they should.
    changing = first.get("/questions/symptoms?return=check").text
    assert any("return" in link for link in _language_links(changing))
    other = app.test_client()
    answer_all(other, {"red_flags": ["none"]})
    plain = other.get("/questions/symptoms").text
    assert _language_links(plain) and not any("return" in link for link in _language_links(plain))
    assert 'action="/questions/symptoms"' in plain and "return=check" not in plain
    # Nor does the other patient's draft or token leak: each page carries its own CSRF token.
    assert csrf_token(plain) != csrf_token(changing)
