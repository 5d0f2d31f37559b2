"""Templates' ``_`` bound once per render (app/web/i18n.py) gives what Flask-Babel's own template gettext gives."""

from __future__ import annotations

from flask import Flask, render_template_string, session
from flask_babel import get_translations

from app.web.i18n import template_gettext

SAMPLES = (
    '{{ _("Continue") }}',
    '{{ _("Open %(hours)s", hours="<b>9–5</b>") }}',  # a variable is escaped, the catalogue's text is not
    '{{ _("In an emergency, call %(number)s.", number="911") }}',
    '{{ _("not in the catalogue & <kept>") }}',
)


def test_same_text_as_flask_babels_gettext_in_both_languages(app: Flask) -> None:
    for lang in ("en", "es"):
        with app.test_request_context("/"):
            session["lang"] = lang
            for source in SAMPLES:
                ours = render_template_string(source)  # the context processor supplies ``gettext``
                babels = app.jinja_env.from_string(source).render()  # Flask-Babel's global ``gettext``
                assert ours == babels, (lang, source)
            if lang == "es":
                assert render_template_string('{{ _("Continue") }}') == "Continuar"


def test_bound_to_the_translations_it_was_given(app: Flask) -> None:
    with app.test_request_context("/"):
        session["lang"] = "es"
        spanish = template_gettext(get_translations())
        template = app.jinja_env.from_string('{{ _("Back") }}')
        assert template.render(gettext=spanish) == "Volver"
