"""Every patient page, rendered through the test client in one language: for the catalogue and reading tests.

``patient_pages(app, "es")`` walks the whole flow (start, the "Learn about MILD" pages, each question page,
check answers, each result category and the emergency page, the contact form, check details, confirmation,
the expired page and the error pages), once plainly and once with validation errors where a page has a form, and returns
``{page name: html}``. The language is chosen the way a patient chooses it: with the switch link.
"""

from __future__ import annotations

import re
from datetime import time
from html.parser import HTMLParser
from typing import Any

from flask import Flask, render_template
from flask.testing import FlaskClient

from app.screening.questions import PAGES
from tests.answers import BASE_ANSWERS, EVERY_PAGE_ANSWERS, answers_with
from tests.journey import CONTACT, answer_all, csrf_token, see_result, send_request

# One set of answers per result category, chosen so that together they show every rule's patient text.
RESULT_ANSWERS: dict[str, dict[str, Any]] = {
    "likely": answers_with(
        blood_thinners=["aspirin"], thinner_hold_risk="yes", bleeding_disorder="not_sure", can_lie_prone="no",
        sedation_problems="yes", vascular_disease="yes", prior_back_surgery="yes", prior_surgery_type="fusion",
        age=85, mri_findings=["stenosis", "thick_ligament", "slipped_vertebra"],
    ),
    "possible": answers_with(
        symptom_duration="under_3_months", pain_score=3, age=45, mri_findings=["not_sure"], tried_pt="no",
        tried_injections="no", tried_medications="no", conservative_duration=None, pain_when_seated="yes",
    ),
    "unlikely": answers_with(
        leg_symptoms="none", worse_standing_walking="no", relief_sitting_bending="no", walking_limit="over_30_min",
        mri_findings=["bone_spurs", "disc_herniation", "instability"],
        red_flags=["cancer_history", "recent_injury", "weight_loss"],
    ),
    "emergency": answers_with(red_flags=["bladder_bowel"], had_mri="no", mri_findings=None),
}
ERROR_CODES = (400, 404, 405, 413, 429, 500)
# The education pages, readable without starting the questionnaire: {page name: path}.
LEARN_PAGES = {
    "learn about MILD": "/learn/about-mild",
    "learn what to expect": "/learn/what-to-expect",
    "learn research": "/learn/research",
    "learn questions": "/learn/questions",
}


def choose_language(client: FlaskClient, lang: str) -> None:
    """Use the switch the way a patient does (the choice is kept for the session)."""
    response = client.get(f"/language/{lang}?next=/")
    assert response.status_code == 303


def patient_pages(app: Flask, lang: str) -> dict[str, str]:
    """Every patient page's HTML in ``lang``, keyed by a readable page name."""
    pages: dict[str, str] = {}

    def fresh() -> FlaskClient:
        client = app.test_client()
        choose_language(client, lang)
        return client

    client = fresh()
    pages["start"] = client.get("/").text
    pages["privacy"] = client.get("/privacy").text
    for name, path in LEARN_PAGES.items():
        pages[name] = client.get(path).text
    answer_all(client, EVERY_PAGE_ANSWERS)
    for page in PAGES:
        pages[f"question {page.slug}"] = client.get(f"/questions/{page.slug}").text
        # Blank radios keep the saved answer (as in a browser), so errors need answers the server refuses.
        refused = {name: "not-a-code" for name in page.fields}
        pages[f"question {page.slug} (errors)"] = _post_empty(client, f"/questions/{page.slug}", refused)
    pages["check answers"] = client.get("/check-your-answers").text
    see_result(client, BASE_ANSWERS)
    pages["contact form"] = client.get("/request").text
    pages["contact form (errors)"] = _post_empty(client, "/request")
    token = csrf_token(pages["contact form"])
    bad = {**CONTACT, "date_of_birth-year": "", "phone": "12", "email": "not an email", "consent_contact": ""}
    pages["contact form (more errors)"] = client.post("/request", data={"csrf_token": token, **bad}).text
    token = csrf_token(client.get("/request").text)
    assert client.post("/request", data={"csrf_token": token, **CONTACT}).status_code == 303
    pages["check details"] = client.get("/request/check").text
    send_request(client)
    pages["confirmation"] = client.get("/request/sent").text
    pages["documents"] = client.get("/request/documents").text
    refused = client.post("/request/documents", data={"csrf_token": csrf_token(pages["documents"])})
    assert refused.status_code == 400
    pages["documents (errors)"] = refused.text
    _booking_pages(app, client, pages)

    for category, answers in RESULT_ANSWERS.items():
        client = fresh()
        pages[f"result {category}"] = see_result(client, answers).text
    client = fresh()
    answer_all(client, {"red_flags": ["bladder_bowel"]})
    pages["get help now"] = client.get("/get-help-now").text

    client = fresh()
    pages["expired"] = client.get("/session-ended").text
    pages["error 404"] = client.get("/no-such-page").text
    pages["error 405"] = client.put("/").text
    pages["error 400"] = client.post("/questions/safety", data={"red_flags": "none"}).text  # no CSRF token
    for code in (413, 429, 500):
        with app.test_request_context("/", headers={"Accept-Language": lang}):
            pages[f"error {code}"] = _render_error(app, code)
    with app.test_request_context("/request/check", method="POST", headers={"Accept-Language": lang}):
        pages["request limit"] = _render_error(app, 429)  # a send past the address or phone limit
    return pages


def _booking_pages(app: Flask, client: FlaskClient, pages: dict[str, str]) -> None:
    """The booking pages, through a link for the request ``client`` just sent: no times yet, then each step."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import ConsultationRequest, utcnow
    from app.scheduling.booking import booking_link
    from app.scheduling.times import BookingSettings, add_hours, add_location

    with app.app_context():
        request = db.session.scalars(select(ConsultationRequest).order_by(ConsultationRequest.id.desc())).first()
        assert request is not None
        token = booking_link(db.session, request, now=utcnow(), settings=BookingSettings(), actor=None)
        db.session.commit()
    pages["booking: no times"] = client.get(f"/book/{token}").text
    with app.app_context():
        place = add_location(db.session, "Main clinic", "100 Example Street", "")
        db.session.flush()
        for weekday in range(7):
            add_hours(db.session, place, weekday, time(9), time(12), 30, 1)
        db.session.commit()
    day = client.get(f"/book/{token}", follow_redirects=True)
    pages["booking: day"] = day.text
    day_path = day.request.path + "?" + day.request.query_string.decode()
    pages["booking: day (errors)"] = client.post(day_path, data={"csrf_token": csrf_token(day.text)}).text
    first = re.search(r'name="choice" type="radio"\s+value="([^"]+)"', day.text).group(1)  # type: ignore[union-attr]
    time_path = client.post(day_path, data={"csrf_token": csrf_token(day.text), "choice": first}).headers["Location"]
    pages["booking: time"] = client.get(time_path).text
    pages["booking: time (errors)"] = client.post(time_path, data={"csrf_token": csrf_token(pages["booking: time"])}
                                                  ).text
    at = re.search(r'name="choice" type="radio"\s+value="([^"]+)"',  # type: ignore[union-attr]
                   pages["booking: time"]).group(1)
    check_path = client.post(time_path, data={"csrf_token": csrf_token(pages["booking: time"]), "choice": at}
                             ).headers["Location"]
    pages["booking: check"] = client.get(check_path).text
    assert client.post(check_path, data={"csrf_token": csrf_token(pages["booking: check"])}).status_code == 303
    pages["booking: booked"] = client.get("/book/booked").text
    pages["booking: link used"] = client.get(f"/book/{token}").text
    pages["booking: link expired"] = client.get("/book/not-a-real-token").text


def _post_empty(client: FlaskClient, url: str, data: dict[str, str] | None = None) -> str:
    response = client.post(url, data={"csrf_token": csrf_token(client.get(url).text), **(data or {})})
    assert response.status_code == 200, (url, response.status_code)
    return response.text


def _render_error(app: Flask, code: int) -> str:
    """An error page the test client cannot easily cause, rendered by the app's own handler."""
    from werkzeug.exceptions import default_exceptions

    handler = app.error_handler_spec[None][None]
    error = default_exceptions[code]()
    for cls in type(error).__mro__:
        if cls in handler:
            return str(handler[cls](error)[0])
    return render_template("error.html", code=code, titles={}, default_title="")


class _MainText(HTMLParser):
    """Collects the text inside <main>, as a reader hears it (one line per block)."""

    BLOCKS = frozenset({"p", "li", "h1", "h2", "h3", "legend", "label", "dt", "dd", "div", "a", "button", "span", "br"})

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "main":
            self.depth += 1
        elif self.depth and tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def main_text(html: str) -> str:
    """The words of the page's <main> element, one block (heading, label, list item, paragraph) per line.

    A block that does not end a sentence itself (a heading, a label, an answer in a list) gets a full stop:
    a reader takes each one on its own, and without it textstat would read a whole list as one sentence.
    """
    parser = _MainText()
    parser.feed(html)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line if line.endswith((".", "?", "!")) else line + "." for line in lines if line)


class _Texts(HTMLParser):
    """Every text node and translatable attribute of a whole page.

    Text in an element that declares a language of its own (``lang`` below <html>, like "English" in the
    language switch) is left out: it is meant to be in that language.
    """

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style") or (tag != "html" and any(name == "lang" for name, _ in attrs)):
            self.skip.append(tag)
            return
        for name, value in attrs:
            if name in ("aria-label", "title", "alt", "placeholder") and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if self.skip and self.skip[-1] == tag:
            self.skip.pop()

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.texts.append(" ".join(data.split()))


def page_texts(html: str) -> str:
    """The page's visible text and labels (title included), joined with newlines."""
    parser = _Texts()
    parser.feed(html)
    return "\n".join(parser.texts)
