"""Object-level access: each patient reaches only their own records, and references cannot be guessed.

Patient pages name no record in their URLs: the result, the request and the confirmation are found
through the draft behind the browser's cookie, so no URL, query string or guessed token reaches anyone
else's. References are random; a made-up one gives staff a plain 404 that says nothing about others.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.intake.reference import ALPHABET, new_reference
from app.models import AuditEvent, ConsultationRequest, Draft
from tests.answers import answers_with
from tests.factories import login, make_staff, staff_token
from tests.journey import CONTACT, csrf_token, see_result, send_request

PATIENT_PAGES = ("/result", "/request", "/request/check", "/request/sent")
ALICE = {**CONTACT, "first_name": "Adaeze", "last_name": "Okonkwo", "phone": "(415) 555-0161",
         "message": "Alice's private message"}
BOB = {**CONTACT, "first_name": "Bartholomew", "last_name": "Brennan", "phone": "(415) 555-0162",
       "message": "Bob's private message"}


def alice_sends(app: Flask) -> tuple[FlaskClient, str]:
    """Alice sends a request in her own browser; her browser and her reference."""
    alice = app.test_client()
    see_result(alice, answers_with())
    assert send_request(alice, ALICE).headers["Location"] == "/request/sent"
    match = re.search(r'class="reference">([A-Z0-9-]+)<', alice.get("/request/sent").text)
    assert match
    return alice, match.group(1)


def shows_alice(text: str, reference: str) -> bool:
    return any(value in text for value in (reference, reference.replace("-", ""), "Adaeze", "Okonkwo",
                                           "555-0161", "Alice's private message"))


def test_no_patient_url_names_a_record(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("public."):
            # Only the questionnaire page's slug, and the language switch's language code (en or es):
            # nothing that could pick a draft, screening or request.
            # The one exception is a link staff send (public.document_link): its token is 32 random bytes, stored
            # only as a hash, that expires; it names no patient (tests/test_documents.py).
            # The booking pages (public.book_*) take a booking link's token alike (tests/test_booking.py).
            allowed = {"code"} if rule.endpoint == "public.choose_language" else (
                {"token"} if rule.endpoint == "public.document_link" or rule.endpoint.startswith("public.book_")
                else {"slug"})
            assert set(rule.arguments) <= allowed, rule.rule


def test_each_patient_sees_only_their_own_result_request_and_confirmation(app: Flask) -> None:
    alice, reference = alice_sends(app)
    bob = app.test_client()
    see_result(bob, answers_with(had_mri="no", mri_findings=None))
    token = csrf_token(bob.get("/request").text)
    assert bob.post("/request", data={"csrf_token": token, **BOB}).status_code == 303
    for path in PATIENT_PAGES:
        page = bob.get(path, follow_redirects=True)
        assert page.status_code == 200
        assert not shows_alice(page.text, reference), path
    assert "Bartholomew" in bob.get("/request/check").text
    assert send_request(bob, BOB).headers["Location"] == "/request/sent"
    bobs = bob.get("/request/sent").text
    assert not shows_alice(bobs, reference)
    assert reference in alice.get("/request/sent").text  # Alice still sees hers
    assert "Bartholomew" not in alice.get("/request/sent").text


def test_a_browser_without_a_draft_reaches_nothing(app: Flask) -> None:
    _, reference = alice_sends(app)
    stranger = app.test_client()
    for path in PATIENT_PAGES:
        response = stranger.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"] in ("/check-your-answers", "/request")
        assert not shows_alice(stranger.get(path, follow_redirects=True).text, reference)


@pytest.mark.parametrize("path", [
    "/request/sent?reference={reference}", "/result?screening=1", "/result?screening_id=1&draft=1",
    "/result/1", "/request/1", "/request/{reference}", "/request/sent/{reference}", "/requests/{reference}",
    "/screenings/1", "/drafts/1", "/request/check?id=1",
])
def test_no_url_or_query_string_reaches_another_patients_records(app: Flask, path: str) -> None:
    _, reference = alice_sends(app)
    bob = app.test_client()
    see_result(bob, answers_with())
    response = bob.get(path.format(reference=reference), follow_redirects=True)
    assert response.status_code in (200, 404)
    assert not shows_alice(response.text, reference)


def test_the_cookie_holds_only_a_random_token_and_the_database_only_its_hash(app: Flask) -> None:
    alice, reference = alice_sends(app)
    with alice.session_transaction() as session:
        token = session["draft"]
    assert len(token) >= 43  # 256 bits, URL-safe base64
    with app.app_context():
        stored = db.session.scalars(select(Draft.token_hash)).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()] and token not in stored
    # A guessed or altered token (signed into a cookie by the test, as an attacker could not) reaches nothing.
    for guess in (token[:-1] + ("A" if token[-1] != "A" else "B"), stored[0], "1", ""):
        other = app.test_client()
        with other.session_transaction() as session:
            session["draft"] = guess
        for path in PATIENT_PAGES:
            page = other.get(path, follow_redirects=True)
            assert not shows_alice(page.text, reference), (guess, path)


def test_a_tampered_cookie_is_no_cookie(app: Flask) -> None:
    alice, reference = alice_sends(app)
    cookie = alice.get_cookie("mild_draft")
    assert cookie is not None
    forged = app.test_client()
    forged.set_cookie("mild_draft", cookie.value[:-2] + ("AA" if not cookie.value.endswith("AA") else "BB"))
    for path in PATIENT_PAGES:
        assert not shows_alice(forged.get(path, follow_redirects=True).text, reference)


def test_references_are_random_not_sequential() -> None:
    drawn = [new_reference() for _ in range(3000)]
    assert len(set(drawn)) == len(drawn)
    assert all(re.fullmatch(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", reference) for reference in drawn)
    counts = Counter(ch for reference in drawn for ch in reference.replace("-", ""))
    assert set(counts) == set(ALPHABET)  # every character is used, in every position over time
    assert not set(counts) & set("01ILOV")  # misread, or misheard in Spanish (B/V)
    expected = 3000 * 8 / len(ALPHABET)
    assert all(0.7 * expected < count < 1.3 * expected for count in counts.values())
    # Neighbours share no more than chance would give: nothing counts up.
    chars = [reference.replace("-", "") for reference in drawn]
    same_place = sum(a == b for x, y in itertools.pairwise(chars) for a, b in zip(x, y, strict=True))
    assert same_place < 2999 * 8 / len(ALPHABET) * 1.5


def test_stored_references_of_consecutive_requests_do_not_follow_each_other(app: Flask) -> None:
    for _ in range(3):
        patient = app.test_client()
        see_result(patient, answers_with())
        send_request(patient)
    with app.app_context():
        references = db.session.scalars(select(ConsultationRequest.reference).order_by(ConsultationRequest.id)).all()
    for earlier, later in itertools.pairwise(references):
        assert sum(a != b for a, b in zip(earlier, later, strict=True)) >= 2, (earlier, later)


MADE_UP = ["ZZZZ-ZZZZ", "zzzzzzzz", "AAAA-AAA2", "' OR 1=1 --", "1", "A" * 300, "%00", "..%2F..%2Fadmin",
           "<script>alert(1)</script>"]


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    login(client, make_staff(app, "admin"))
    return client


def request_views(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(AuditEvent)
                                     .where(AuditEvent.action == "view_request")) or 0)


@pytest.mark.parametrize("made_up", MADE_UP)
def test_a_made_up_reference_is_a_plain_404_for_staff(app: Flask, admin: FlaskClient, made_up: str) -> None:
    _, reference = alice_sends(app)
    with app.app_context():
        before = db.session.scalars(select(ConsultationRequest.version)).one()
    def page(text: str) -> str:  # the page's content; the bar around it carries per-request session details
        return text[text.index("<main"):text.index("</main>")]

    plain_404 = page(admin.get("/staff/no-such-page").text)
    token = staff_token(admin, "/staff/requests")
    for path in (f"/staff/requests/{made_up}", f"/staff/requests/{made_up}/print"):
        response = admin.get(path)
        assert response.status_code == 404, path
        assert page(response.text) == plain_404  # nothing about what does exist, nor an echo of what was asked
        assert not shows_alice(response.text, reference)
    for action, data in (("assign", {"assignee": ""}), ("contact", {"method": "phone", "outcome": "reached"}),
                         ("status", {"status": "in_progress"}), ("note", {"text": "hello"})):
        response = admin.post(f"/staff/requests/{made_up}/{action}",
                              data={"csrf_token": token, "version": str(before), **data})
        assert response.status_code == 404, action
        assert not shows_alice(response.text, reference)
    assert request_views(app) == 0  # nothing was viewed, so nothing is audited as viewed
    with app.app_context():
        assert db.session.scalars(select(ConsultationRequest.version)).one() == before


def test_an_unknown_account_id_is_a_404(app: Flask, admin: FlaskClient) -> None:
    token = staff_token(admin, "/staff/admin/accounts")
    for action in ("disable", "enable"):
        assert admin.post(f"/staff/admin/accounts/999999/{action}", data={"csrf_token": token}).status_code == 404


def test_signed_out_a_real_and_a_made_up_reference_look_the_same(app: Flask) -> None:
    _, reference = alice_sends(app)
    anonymous = app.test_client()
    answers: list[tuple[Any, ...]] = []
    for candidate in (reference, "ZZZZ-ZZZZ"):
        response = anonymous.get(f"/staff/requests/{candidate}")
        location = response.headers["Location"].replace(candidate, "REF")
        posted = anonymous.post(f"/staff/requests/{candidate}/note",
                                data={"csrf_token": staff_token(anonymous, "/staff/login"), "text": "x"})
        answers.append((response.status_code, location, posted.status_code))
    assert answers[0] == answers[1] and answers[0][0] == 302
