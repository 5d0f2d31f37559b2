"""Each question's rendered markup, kept per (field, language, answer shown).

The ``question`` macro of templates/macros/fields.html (label, hint, one input per option, each label
translated) is most of a question page's rendering. Its output depends only on the question (static data,
app/screening/questions.py), the page's language, the wording asked and the answer shown, never on the
request or who is asking, so what it rendered is served again for the same key. The macro stays the one
definition of the markup.

A field that shows an error, or holds what was just posted, is always rendered afresh. The cache holds only
answer codes and numbers already validated into a draft, never who gave them, and is bounded by
``functools.lru_cache``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from typing import Any

from flask import get_template_attribute
from markupsafe import Markup
from wtforms import Field

from app.screening.questions import BY_FIELD
from app.web.i18n import current_language

MACROS = "macros/fields.html"
# About 60 questions in two languages, with room for many answers to each.
MAX_ENTRIES = 20_000


def _answer_key(data: Any) -> Hashable:
    """``data`` as a dictionary key: a list of codes becomes a tuple; codes, numbers and None stay."""
    return tuple(data) if isinstance(data, list) else data


def _render(field: Field, text: str) -> Markup:
    # An autoescaping template's macro returns Markup: the macro did the escaping.
    html: Markup = get_template_attribute(MACROS, "question")(field, BY_FIELD[field.name], text)
    return html


@dataclass(frozen=True)
class _Shown:
    """What a question's markup depends on (the key), and the field to render it from (not part of the key)."""

    name: str
    language: str
    answer: Hashable
    text: str  # the wording asked (it can follow an earlier answer)
    field: Field = dataclass_field(compare=False, hash=False)


@lru_cache(maxsize=MAX_ENTRIES)
def _kept(shown: _Shown) -> Markup:
    return _render(shown.field, shown.text)


def question_html(field: Field, answers: Mapping[str, Any]) -> Markup:
    """The question of ``field`` (a questionnaire form field) with its answer, as the macro renders it.

    ``answers``: the patient's answers so far, which decide the question's wording.
    """
    text = BY_FIELD[field.name].text_for(answers)
    if field.errors or field.raw_data:
        return _render(field, text)
    shown = _Shown(field.name, current_language(), _answer_key(field.data), text, field)
    try:
        return _kept(shown)
    except TypeError:  # an answer of an unexpected shape (not hashable): no caching, same markup
        return _render(field, text)
