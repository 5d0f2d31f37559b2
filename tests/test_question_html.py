"""Kept renderings (app/public/question_html.py): a question is what its macro renders, a page what Jinja does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, get_template_attribute, session
from flask.testing import FlaskClient
from markupsafe import Markup
from sqlalchemy import select

from app.extensions import db
from app.models import Draft
from app.public.forms import form_class
from app.public.question_html import CSRF_PLACEHOLDER, question_html
from app.screening.questions import BY_FIELD, PAGES, Kind, Question
from tests.answers import BASE_ANSWERS
from tests.journey import answer_all, csrf_token, form_data, post_page
from tests.patient_pages import choose_language


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


def _macro(field: Any) -> Markup:
    html: Markup = get_template_attribute("macros/fields.html", "question")(field, BY_FIELD[field.name])
    assert isinstance(html, Markup)  # the macro escaped its text
    return html


def _render_both(app: Flask, lang: str, name: str, answer: Any) -> tuple[Markup, Markup]:
    page = next(page for page in PAGES if name in page.fields)
    with app.test_request_context(f"/questions/{page.slug}"):
        session["lang"] = lang
        field = form_class(page)(data={name: answer})[name]
        return question_html(field), _macro(field)


def test_every_question_and_answer_matches_the_macro_in_both_languages(app: Flask) -> None:
    # The second pass reads from a cache that every other answer and the other language have filled: a
    # kept rendering must never leak into another answer or language.
    for _ in range(2):
        for lang in ("en", "es"):
            for name, question in BY_FIELD.items():
                for answer in _answers(question):
                    kept, fresh = _render_both(app, lang, name, answer)
                    assert kept == fresh, (name, answer, lang)


def test_the_cache_keeps_languages_apart(app: Flask) -> None:
    english, _ = _render_both(app, "en", "red_flags", None)
    spanish, _ = _render_both(app, "es", "red_flags", None)
    assert english != spanish
    assert _render_both(app, "en", "red_flags", None)[0] == english


def test_a_field_with_an_error_or_posted_data_is_rendered_afresh(app: Flask) -> None:
    page = PAGES[0]
    name = page.fields[0]
    with app.test_request_context(f"/questions/{page.slug}", method="POST", data={name: "not-a-code"}):
        form = form_class(page)(meta={"csrf": False})
        form.validate()
        field = form[name]
        assert field.errors
        html = question_html(field)
        assert html == _macro(field)
        assert 'class="error-message"' in html
    assert not any(key[0] == name and key[2] == "not-a-code" for key in app.extensions.get("question_html", {}))


# --- whole question pages kept for GETs -------------------------------------------------------------------

CSRF_INPUT = re.compile(r'(<input[^>]*name="csrf_token"[^>]*value=")([^"]+)(")')


def _masked(html: str) -> str:
    return CSRF_INPUT.sub(r"\1TOKEN\3", html)


def _fresh_and_kept(app: Flask, client: FlaskClient, url: str) -> tuple[str, str]:
    app.extensions.pop("question_page_html", None)
    app.extensions.pop("question_html", None)
    fresh = client.get(url)
    kept = client.get(url)
    assert fresh.status_code == kept.status_code == 200, url
    return fresh.text, kept.text


def test_a_kept_page_is_the_page_rendered_afresh_with_its_own_token(app: Flask, client: FlaskClient) -> None:
    answer_all(client, BASE_ANSWERS)
    for lang in ("en", "es"):
        choose_language(client, lang)
        for page in PAGES:
            if not page.is_shown(BASE_ANSWERS):
                continue
            for query in ("", "?return=check"):
                fresh, kept = _fresh_and_kept(app, client, f"/questions/{page.slug}{query}")
                assert _masked(kept) == _masked(fresh)
                assert CSRF_PLACEHOLDER not in kept
                assert f'lang="{lang}"' in kept


def test_the_token_of_a_kept_page_is_accepted(app: Flask, client: FlaskClient) -> None:
    answer_all(client, {"red_flags": ["none"]})
    client.get("/questions/symptoms")  # kept now
    other = app.test_client()  # another patient gets the kept page with a token of their own
    answer_all(other, {"red_flags": ["none"]})
    html = other.get("/questions/symptoms").text
    token = csrf_token(html)
    assert token != CSRF_PLACEHOLDER and token != csrf_token(client.get("/questions/symptoms").text)
    response = other.post("/questions/symptoms", data={"csrf_token": token, **form_data(PAGES[1], BASE_ANSWERS)})
    assert response.status_code == 303


def test_kept_pages_follow_the_answers_and_the_language(client: FlaskClient) -> None:
    answer_all(client, {"red_flags": ["none"]})
    before = client.get("/questions/symptoms").text
    post_page(client, "symptoms", form_data(PAGES[1], BASE_ANSWERS))
    after = client.get("/questions/symptoms").text
    assert _masked(before) != _masked(after)
    assert after.count(" checked") > before.count(" checked")
    choose_language(client, "es")
    assert '<html lang="es">' in client.get("/questions/symptoms").text


def test_a_session_keeps_one_signed_token_which_is_accepted_only_in_that_session(
    app: Flask, client: FlaskClient
) -> None:
    answer_all(client, {"red_flags": ["none"]})
    first = csrf_token(client.get("/questions/symptoms").text)
    assert csrf_token(client.get("/questions/symptoms?return=check").text) == first  # signed once, kept
    assert list(app.extensions["question_page_csrf"].values()) == [first]
    other = app.test_client()
    answer_all(other, {"red_flags": ["none"]})
    refused = other.post("/questions/symptoms", data={"csrf_token": first, **form_data(PAGES[1], BASE_ANSWERS)})
    assert refused.status_code != 303  # another patient's token is no good
    assert all("leg_symptoms" not in answers for answers in _draft_answers_of(app))  # nothing saved
    accepted = client.post("/questions/symptoms", data={"csrf_token": first, **form_data(PAGES[1], BASE_ANSWERS)})
    assert accepted.status_code == 303


def test_with_a_csrf_time_limit_every_page_is_signed_afresh(app: Flask, client: FlaskClient) -> None:
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600  # a timestamp that counts: a kept token would age
    answer_all(client, {"red_flags": ["none"]})
    app.extensions.pop("question_page_csrf", None)
    token = csrf_token(client.get("/questions/symptoms").text)
    assert not app.extensions.get("question_page_csrf")
    response = client.post("/questions/symptoms", data={"csrf_token": token, **form_data(PAGES[1], BASE_ANSWERS)})
    assert response.status_code == 303


def _draft_answers_of(app: Flask) -> list[dict[str, object]]:
    with app.app_context():
        return [dict(answers) for answers in db.session.scalars(select(Draft.answers))]


def test_a_new_signing_key_signs_the_token_again(app: Flask, client: FlaskClient) -> None:
    answer_all(client, {"red_flags": ["none"]})
    before = csrf_token(client.get("/questions/symptoms").text)
    app.config["WTF_CSRF_SECRET_KEY"] = "another signing key for CSRF tokens, long enough"
    after = csrf_token(client.get("/questions/symptoms").text)
    assert after != before
    response = client.post("/questions/symptoms", data={"csrf_token": after, **form_data(PAGES[1], BASE_ANSWERS)})
    assert response.status_code == 303
