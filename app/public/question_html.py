"""Kept renderings of the questionnaire: each question's macro output, and each question page shown by a GET.

Question: rendered by its macro and kept per (field, language, answer).

A question page's GET spent about a third of its time in the ``question`` macro of
templates/macros/fields.html (label, hint, one input per option, each label translated). Its output depends
only on the question (static data, app/screening/questions.py), the page's language and the answer shown, so
a GET keeps what the macro rendered and serves it again for the same answer in the same language. The macro
stays the one definition of the markup: nothing here writes HTML.

A field that shows an error, or holds what was just posted, is always rendered afresh (an error page after a
POST is rare, and its text comes from the submitted data). The cache holds only answer codes and numbers
already validated into a draft, never who gave them, and is bounded: it is emptied when it fills up.

Page: a GET of a question page (no error, nothing posted) is the template rendered from the page, the
language, the answers to that page's questions, the "back" link, whether the patient came from the check
page, and the CSRF token. The page is kept with a placeholder where the token goes and each GET puts its
own token in: Jinja, WTForms and Flask-Babel then run once per distinct page instead of on every view
(after the question cache above, the rest of the template and the form were still half of a GET).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from flask import current_app, g, get_template_attribute, render_template, request, session
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from wtforms import Field

from app.i18n import current_language
from app.public.forms import form_class
from app.screening.questions import BY_FIELD, Page

MACROS = "macros/fields.html"
# About 60 questions in two languages: room for many answers to each before it is emptied.
MAX_ENTRIES = 20_000
_CACHE_KEY = "question_html"
# Pages are about 10 KB: at most about 20 MB per worker before the cache is emptied.
MAX_PAGES = 2_000
_PAGE_CACHE_KEY = "question_page_html"
# Stands for the CSRF token in a kept page: letters and dashes only, so escaping leaves it as it is, and no
# text of the questionnaire contains it.
CSRF_PLACEHOLDER = "csrf-token-placeholder-5f0d7c1e"
# Signed CSRF tokens kept per session token: at most about 2 MB per worker before it is emptied.
MAX_TOKENS = 10_000
_CSRF_CACHE_KEY = "question_page_csrf"


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


def question_page_html(page: Page, answers: dict[str, Any], returning: bool, back_url: str) -> str:
    """A question page for a GET, pre-filled with ``answers``, with this request's CSRF token."""
    cache: dict[tuple[Hashable, ...], str] = current_app.extensions.setdefault(_PAGE_CACHE_KEY, {})
    # Everything the template reads that is not static (request.script_root: the links of a site under a
    # path prefix); the language switch's target is the page's own path and return flag.
    key = (page.slug, current_language(), returning, back_url, request.script_root,
           tuple(_answer_key(answers.get(name)) for name in page.fields))
    try:
        html = cache.get(key)
    except TypeError:  # an answer of an unexpected shape: rendered, not kept
        return _render_page(page, answers, returning, back_url, page_csrf_token())
    if html is None:
        if len(cache) >= MAX_PAGES:
            cache.clear()
        html = cache[key] = _render_page(page, answers, returning, back_url, CSRF_PLACEHOLDER)
    return html.replace(CSRF_PLACEHOLDER, page_csrf_token(), 1)


def page_csrf_token() -> str:
    """This request's CSRF token, as Flask-WTF's ``generate_csrf()`` gives it, signed once per session and kept.

    Flask-WTF keeps a random token in the session and puts a signed, timestamped copy of it in each form; it
    checks the signature and compares the copy with the session's token. With ``WTF_CSRF_TIME_LIMIT = None``
    (config.py says why) the timestamp is never checked, so one signed copy is as good as a fresh one for
    as long as the session holds that token, and signing it again on every page view was about an eighth of a
    question page's GET. The copy is kept per session token (what the session cookie already holds, and the
    copy is in every form the patient gets) and signing key, bounded, and only while no time limit is set.
    """
    field = str(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    raw = session.get(field)
    if current_app.config.get("WTF_CSRF_TIME_LIMIT") is not None or not isinstance(raw, str) or field in g:
        return str(generate_csrf())
    cache: dict[tuple[object, str], str] = current_app.extensions.setdefault(_CSRF_CACHE_KEY, {})
    key = (current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key, raw)  # signed with this key
    token = cache.get(key)
    if token is None:
        if len(cache) >= MAX_TOKENS:
            cache.clear()
        token = cache[key] = str(generate_csrf())
    else:
        setattr(g, field, token)  # what generate_csrf() keeps for the rest of this request
    return token


def _render_page(page: Page, answers: dict[str, Any], returning: bool, back_url: str, token: str) -> str:
    form = form_class(page)(data=answers)
    form.csrf_token.current_token = token  # what the hidden csrf_token input shows
    return render_template("public/question.html", page=page, form=form, returning=returning, back_url=back_url)
