"""Patient education pages about MILD: readable without starting the questionnaire, and never tied to a draft.

The words live in the templates (``templates/public/learn/``), one gettext message per paragraph or list
item: each page is mostly structure (headings, lists, links), which reads best next to its text, and a
translator sees one short, whole idea at a time. The clinic's details come from configuration.
"""

from __future__ import annotations

from flask import current_app, redirect, render_template
from werkzeug.wrappers import Response as BaseResponse

from app.public import bp

# (URL slug, endpoint, template); the order is the order of the "Learn about MILD" links.
LEARN_PAGES: tuple[tuple[str, str, str], ...] = (
    ("about-mild", "about_mild", "public/learn/about.html"),
    ("what-to-expect", "what_to_expect", "public/learn/what_to_expect.html"),
    ("research", "research", "public/learn/research.html"),
    ("questions", "learn_questions", "public/learn/questions.html"),
)


def _register(slug: str, endpoint: str, template: str) -> None:
    def view() -> str:
        return render_template(template)

    view.__doc__ = f"The education page {slug!r}."
    bp.add_url_rule(f"/learn/{slug}", endpoint=endpoint, view_func=view, methods=["GET"])


for _slug, _endpoint, _template in LEARN_PAGES:
    _register(_slug, _endpoint, _template)


@bp.get("/privacy")
def privacy() -> str | BaseResponse:
    """How the self-check uses a patient's information; the clinic's own notice instead, when it has one."""
    clinic = current_app.extensions["clinic"]
    if clinic.privacy_url:
        return redirect(clinic.privacy_url, code=302)
    config = current_app.config
    return render_template("public/privacy.html", draft_hours=int(config["DRAFT_IDLE_TIMEOUT"].total_seconds() // 3600),
                           screening_days=config["SCREENING_RETENTION_DAYS"],
                           request_days=config["REQUEST_RETENTION_DAYS"])
