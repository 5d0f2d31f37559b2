"""A question page's POST reads its answers without building the form (issue 7): it must agree with the form.

``read_page_answers`` must give exactly what the generated WTForms form gives for the same post over the same
stored answers (``form_class(page)(data=stored)``, validated, then ``answers()``), and None where the form
finds any answer invalid, whatever was sent: codes, unknown codes, repeats, blanks, fields left out.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Draft
from app.public import forms as public_forms
from app.public.forms import form_class, read_page_answers
from app.screening.questions import BY_FIELD, PAGES, Kind, Page, Question
from tests.answers import BASE_ANSWERS
from tests.journey import csrf_token, error_messages, form_data


def sent_values(question: Question) -> st.SearchStrategy[list[str]]:
    """What a browser (or a bot) may send for one field: codes, unknown codes, numbers, blanks, several."""
    codes = list(question.codes) or ["yes"]
    text = st.one_of(
        st.sampled_from(codes), st.sampled_from(["", " ", "none", "None", "yes", "7", " 12 ", "٣", "1e3", "-1"]),
        st.integers(-3, 10_000).map(str), st.text(max_size=4),
    )
    return st.lists(text, min_size=1, max_size=3)


def stored_value(question: Question) -> st.SearchStrategy[Any]:
    """What the draft may already hold for the field (normally a valid answer, sometimes not)."""
    codes = list(question.codes) or ["yes"]
    if question.kind is Kind.MULTI:
        valid: st.SearchStrategy[Any] = st.lists(st.sampled_from(codes), min_size=1, max_size=2, unique=True)
    elif question.kind is Kind.INTEGER:
        valid = st.integers((question.minimum or 0) - 1, (question.maximum or 0) + 1)
    else:
        valid = st.sampled_from(codes)
    return st.one_of(valid, st.none(), st.just(""), st.text(max_size=3))


@st.composite
def posts(draw: st.DrawFn) -> tuple[Page, MultiDict[str, str], dict[str, Any]]:
    page = draw(st.sampled_from(PAGES))
    sent: MultiDict[str, str] = MultiDict([("csrf_token", "x")])  # a form post is never empty
    stored: dict[str, Any] = {}
    for name in page.fields:
        question = BY_FIELD[name]
        if draw(st.booleans()):
            for value in draw(sent_values(question)):
                sent.add(name, value)
        if draw(st.booleans()):
            stored[name] = draw(stored_value(question))
    return page, sent, stored


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(posts())
def test_the_fast_read_agrees_with_the_form(app: Flask, post: tuple[Page, MultiDict[str, str], dict[str, Any]]) -> None:
    page, sent, stored = post
    with app.test_request_context(f"/questions/{page.slug}", method="POST", data=sent):
        form = form_class(page)(data=stored, meta={"csrf": False})
        expected = form.answers() if form.validate() else None
        assert read_page_answers(page, sent, stored) == expected


def test_a_valid_post_does_not_build_the_form(app: Flask, client: FlaskClient, monkeypatch: Any) -> None:
    """The usual post saves without the form; a post with an error still shows the form's messages."""
    built: list[str] = []
    real = public_forms.PageForm.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(type(self).__name__)
        real(self, *args, **kwargs)

    monkeypatch.setattr(public_forms.PageForm, "__init__", counting)
    first, second = PAGES[0], PAGES[1]
    token = csrf_token(client.get(f"/questions/{first.slug}").text)  # a page's HTML may be made with its form
    built.clear()
    saved = client.post(f"/questions/{first.slug}", data={"csrf_token": token, **form_data(first, BASE_ANSWERS)})
    assert saved.status_code == 303
    assert built == []
    client.get(f"/questions/{second.slug}")
    built.clear()
    shown = client.post(f"/questions/{second.slug}", data={"csrf_token": token})
    assert shown.status_code == 200 and error_messages(shown.text)
    assert len(built) == 1
    with app.app_context():
        stored = db.session.scalars(select(Draft)).one()
        assert stored.answers == {name: BASE_ANSWERS[name] for name in first.fields}


def test_a_post_with_a_bad_csrf_token_is_refused_before_any_answer_is_read(client: FlaskClient) -> None:
    first = PAGES[0]
    client.get(f"/questions/{first.slug}")
    response = client.post(f"/questions/{first.slug}", data={"csrf_token": "forged", **form_data(first, BASE_ANSWERS)})
    assert response.status_code == 400
