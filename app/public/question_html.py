"""The HTML of one questionnaire question, rendered by its macro and kept per (field, language, answer).

A question page's GET spent about a third of its time in the ``question`` macro of
templates/macros/fields.html (label, hint, one input per option, each label translated). Its output depends
only on the question (static data, app/screening/questions.py), the page's language and the answer shown, so
a GET keeps what the macro rendered and serves it again for the same answer in the same language. The macro
stays the one definition of the markup: nothing here writes HTML.

A field that shows an error, or holds what was just posted, is always rendered afresh (an error page after a
POST is rare, and its text comes from the submitted data). The cache holds only answer codes and numbers
already validated into a draft, never who gave them, and is bounded: it is emptied when it fills up.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from flask import current_app, get_template_attribute
from markupsafe import Markup
from wtforms import Field

from app.i18n import current_language
from app.screening.questions import BY_FIELD

MACROS = "macros/fields.html"
# About 60 questions in two languages: room for many answers to each before it is emptied.
MAX_ENTRIES = 20_000
_CACHE_KEY = "question_html"


def _answer_key(data: Any) -> Hashable:
    """``data`` as a dictionary key: a list of codes becomes a tuple; codes, numbers and None stay."""
    return tuple(data) if isinstance(data, list) else data


def _render(field: Field) -> Markup:
    # An autoescaping template's macro returns Markup: the macro did the escaping.
    html: Markup = get_template_attribute(MACROS, "question")(field, BY_FIELD[field.name])
    return html


def question_html(field: Field) -> Markup:
    """The question of ``field`` (a questionnaire form field) with its answer, as the macro renders it."""
    if field.errors or field.raw_data:
        return _render(field)
    cache: dict[tuple[str, str, Hashable], Markup] = current_app.extensions.setdefault(_CACHE_KEY, {})
    key = (field.name, current_language(), _answer_key(field.data))
    try:
        html = cache.get(key)
    except TypeError:  # an answer of an unexpected shape (not hashable): no caching, same markup
        return _render(field)
    if html is None:
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        html = cache[key] = _render(field)
    return html
