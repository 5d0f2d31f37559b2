"""Languages of the patient pages: which one a request uses, the switch, and locale-aware formatting.

Patient pages come in English and Spanish. The patient's choice is kept in the patient session cookie
(next to the draft id, never in the draft itself), otherwise the browser's Accept-Language decides. The
staff console is always English. Text in the domain modules is marked with ``app.platform.i18n_marker.N_`` and
translated here, at render time, from its English message id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode, urlsplit

from babel import Locale
from babel.support import NullTranslations
from flask import Flask, current_app, request, session, url_for
from flask_babel import format_date, get_locale, get_translations, gettext, refresh
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from app.extensions import babel

SUPPORTED = ("en", "es")
DEFAULT = "en"
SESSION_KEY = "lang"
NAMES = {"en": "English", "es": "Español"}  # each in its own language, for the switch
# The English pages have always written dates as "27 March 1952"; Spanish uses its long form,
# "27 de marzo de 1952" (CLDR).
# English follows the clinic's date order ("November 24, 2026" in the US); Spanish writes the day first
# everywhere ("24 de noviembre de 2026").
DATE_FORMATS = {("en", "MDY"): "MMMM d, y", ("en", "DMY"): "d MMMM y", ("es", "MDY"): "long", ("es", "DMY"): "long"}
_STAFF_PREFIXES = ("/staff", "/healthz")


# Flask-Babel parses what the selector returns into a Locale on every request (Babel's Locale.parse looks for
# its data file each time); a Locale passes through as it is. One each, made once.
_LOCALES = {code: Locale.parse(code) for code in SUPPORTED}


def select_locale() -> Locale:
    """The language of this request: staff pages English; else the patient's choice, else the browser's."""
    if request.path.startswith(_STAFF_PREFIXES):
        return _LOCALES[DEFAULT]
    chosen = session.get(SESSION_KEY)
    if chosen in SUPPORTED:
        return _LOCALES[str(chosen)]
    return _LOCALES[request.accept_languages.best_match(SUPPORTED) or DEFAULT]


def current_language() -> str:
    """The code of the language this request is rendered in."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in SUPPORTED else DEFAULT


def remember_language(code: str) -> None:
    """Keep the patient's choice for the rest of their browser session (the draft is not touched)."""
    session[SESSION_KEY] = code


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (with any query), else None: never an open redirect."""
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def switch_target() -> str:
    """Where the language switch comes back to: this page, or the start page for a URL that is no page.

    Only the path and the check-answers ``return`` flag are kept: the link never echoes other query text, nor
    a mistyped URL (which could hold, say, a reference) on a "page not found".
    """
    if request.url_rule is None or request.blueprint != "public":
        return url_for("public.start")
    back = request.args.get("return")
    return request.path + (f"?{urlencode({'return': back})}" if back else "")


def translate(message: str | None, **params: object) -> str:
    """The current language's text for an English message id marked with ``N_`` (empty stays empty)."""
    if not message:
        return message or ""
    return gettext(message, **params) if params else gettext(message)


def patient_date(day: date) -> str:
    """A date as a patient reads it in the current language and the clinic's order ("November 24, 2026")."""
    return format_date(day, DATE_FORMATS[current_language(), current_app.extensions["clinic"].date_order])


def template_gettext(translations: NullTranslations) -> Callable[..., str]:
    """The templates' ``gettext`` (and so ``_``) for one render, bound to that request's ``translations``.

    Flask-Babel's own template ``gettext`` finds the request's domain, locale and translations again for
    every string; a page has a dozen strings and one language. This
    behaves exactly like Jinja's newstyle gettext (jinja2.ext): the text is autoescaped, then always
    formatted with the keyword arguments (so ``%%`` is written the same with or without them).
    """

    @pass_context
    def gettext_in_template(context: Context, string: str, **variables: Any) -> str:
        text = translations.ugettext(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - our own catalogue, as Jinja does; % escapes the variables
        return text % variables  # type: ignore[no-any-return]

    return gettext_in_template


def init_i18n(app: Flask) -> None:
    """Bind Flask-Babel with the locale selector and give templates the language helpers."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")  # relative to the app package
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel caches the locale on ``g``, which outlives one request when an app context is already
    # pushed (tests, CLI): choose again for every request.
    app.before_request(refresh)

    @app.context_processor
    def language_context() -> dict[str, object]:
        return {
            # Jinja's ``_`` looks ``gettext`` up in the render's context first: this request's translations,
            # found once. Imported macros (no context) keep Flask-Babel's global one, which is the same text.
            "gettext": template_gettext(get_translations()),
            "current_lang": current_language(),
            "language_names": NAMES,
            "supported_languages": SUPPORTED,
            "patient_date": patient_date,
            "switch_target": switch_target,
            "t": translate,
        }
