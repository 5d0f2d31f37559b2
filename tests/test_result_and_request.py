"""Result pages for each category, and the consultation request stored exactly once."""

from __future__ import annotations

import html
import re
import threading
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.intake.reference import ALPHABET
from app.models import ConsultationRequest, Draft, Screening
from tests.answers import BASE_ANSWERS, answers_with
from tests.journey import CONTACT, csrf_token, error_messages, see_result, send_request

JOURNEYS = {
    "likely": (answers_with(), "Your answers match the kind of problem MILD treats"),
    "possible": (answers_with(had_mri="no", mri_findings=None), "Some of your answers match"),
    "unlikely": (answers_with(main_pain="back", leg_symptoms="none"), "do not match the kind of problem"),
    "emergency": (answers_with(red_flags=["saddle_numbness"]), "Get medical help now"),
}


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def stored_request(app: Flask) -> ConsultationRequest:
    with app.app_context():
        request = db.session.scalars(select(ConsultationRequest)).one()
        db.session.expunge(request)
        return request


def main_text(html: str) -> str:
    """The visible words of the page's main element, whitespace collapsed."""
    main = html.split('<main id="main" class="main">', 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


@pytest.mark.parametrize("category", JOURNEYS)
def test_full_journey_for_each_category(app: Flask, client: FlaskClient, category: str) -> None:
    answers, heading = JOURNEYS[category]
    result = see_result(client, answers)
    text = main_text(result.text)
    assert heading in text
    assert "This is not a diagnosis" in text
    assert "(415) 555-0134" in text  # the clinic's phone number
    assert 'href="/request"' in result.text
    with app.app_context():
        assert db.session.scalars(select(Screening.category)).one() == category

    response = send_request(client)
    assert response.headers["Location"] == "/request/sent"
    sent = client.get("/request/sent").text
    stored = stored_request(app)
    assert stored.reference in sent
    assert stored.status == "new"
    assert stored.screening_id is not None


def test_emergency_result_leads_with_emergency_care(client: FlaskClient) -> None:
    text = main_text(see_result(client, JOURNEYS["emergency"][0]).text)
    assert text.index("Call 911") < text.index("Request a consultation")
    assert "Do not wait for the clinic to call you" in text


def test_possible_result_lists_what_is_missing_and_what_to_bring(client: FlaskClient) -> None:
    text = main_text(see_result(client, JOURNEYS["possible"][0]).text)
    assert "What is missing or not sure yet" in text
    assert "thick ligament" in text
    assert "MRI or CT scan" in text and "last 12 months" in text  # K8 on the checklist
    assert "bring" in text.lower()


def _section(text: str, heading: str, next_heading: str) -> str:
    return text[text.index(heading) + len(heading):text.index(next_heading)]


def test_a_held_result_names_the_hold_among_what_is_missing(client: FlaskClient) -> None:
    """Every criterion met, but leg pain when sitting (K9) holds the result at possible: it says why."""
    page = see_result(client, answers_with(pain_when_seated="yes")).text
    text = main_text(page)
    assert "A doctor needs to check some of your answers first" in text
    assert "Some of your answers match" not in text and "panel--held" in page  # not a partial match
    missing = _section(text, "What is missing or not sure yet", "What happens next")
    assert "You have leg pain even when sitting" in missing


def test_a_possible_result_with_no_criterion_met_does_not_say_some_answers_match(client: FlaskClient) -> None:
    answers = answers_with(leg_symptoms="one_side", worse_standing_walking="yes", relief_sitting_bending="no",
                           symptom_duration="under_3_months", tried_pt="no", tried_injections="no",
                           tried_medications="no", conservative_duration=None, had_mri="no", mri_findings=None,
                           walking_limit="cannot_walk", pain_score=2, age=45)
    text = main_text(see_result(client, answers).text)
    assert "Your answers do not yet show the kind of problem MILD treats" in text
    assert "Some of your answers match" not in text and "What matches" not in text
    missing = _section(text, "What is missing or not sure yet", "What happens next")
    assert "You rated your average pain below 5 out of 10" in missing
    assert "MILD is for people whose symptoms make them stop walking" in missing


def test_unlikely_result_gives_the_plain_reason(client: FlaskClient) -> None:
    text = main_text(see_result(client, JOURNEYS["unlikely"][0]).text)
    assert "You do not have symptoms in your buttocks or legs" in text
    assert "Other treatments may help" in text


def test_blood_thinner_is_a_before_your_visit_note_never_stop(client: FlaskClient) -> None:
    text = main_text(see_result(client, answers_with(blood_thinners=["anticoagulant"], thinner_hold_risk="no")).text)
    assert "Before your visit" in text
    assert "Do not stop it on your own" in text
    assert "stop taking" not in text.lower()


def test_prompt_review_flags_are_shown_prominently(client: FlaskClient) -> None:
    text = main_text(see_result(client, answers_with(red_flags=["cancer_history"])).text)
    assert "Talk to a doctor soon" in text
    assert "cancer" in text


def test_request_is_stored_with_normalised_details(app: Flask, client: FlaskClient) -> None:
    see_result(client, answers_with())
    send_request(client, {**CONTACT, "email": " Ana@Example.COM ", "preferred_contact": "email"})
    stored = stored_request(app)
    assert stored.phone == "+14155550199"
    assert stored.email == "Ana@example.com"
    assert stored.last_name == "García"
    assert stored.date_of_birth == date(1954, 4, 3)
    assert stored.consent_contact is True
    assert stored.created_at.tzinfo is not None and stored.created_at.utcoffset().total_seconds() == 0
    assert re.fullmatch(f"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", stored.reference)
    with app.app_context():
        screening = db.session.get(Screening, stored.screening_id)
        assert screening is not None and screening.assessment["category"] == "likely"
        assert db.session.scalars(select(Draft.contact)).one() == {}  # no second copy of the details


def test_check_page_shows_details_with_change_links(client: FlaskClient) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    client.post("/request", data={"csrf_token": token, **CONTACT})
    page = client.get("/request/check").text
    assert "Ana García" in page
    assert "April 3, 1954" in page
    assert "(415) 555-0199" in page
    assert 'href="/request#phone"' in page
    # Change keeps everything typed.
    form = client.get("/request").text
    assert 'value="García"' in form and 'value="1954"' in form and 'value="es" checked' in form


def test_double_submit_stores_one_request_and_shows_the_same_reference(app: Flask, client: FlaskClient) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    client.post("/request", data={"csrf_token": token, **CONTACT})
    token = csrf_token(client.get("/request/check").text)
    first = client.post("/request/check", data={"csrf_token": token})
    replay = client.post("/request/check", data={"csrf_token": token})  # the same POST again
    assert first.headers["Location"] == replay.headers["Location"] == "/request/sent"
    assert count(app, ConsultationRequest) == 1
    reference = stored_request(app).reference
    assert reference in client.get("/request/sent").text
    # Back button to the form, then submit again: still the same request.
    assert client.get("/request").headers["Location"] == "/request/sent"
    assert client.post("/request", data={"csrf_token": token, **CONTACT}).headers["Location"] == "/request/sent"
    assert count(app, ConsultationRequest) == 1


@pytest.mark.parametrize("intake", ["", "intake@clinic.example"], ids=["no notices", "intake notices on"])
def test_concurrent_double_click_stores_one_request(make_app: Any, intake: str) -> None:
    from app.models import OutboxMessage

    app = make_app(MAIL_INTAKE_ADDRESS=intake)
    client = app.test_client()
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    client.post("/request", data={"csrf_token": token, **CONTACT})
    token = csrf_token(client.get("/request/check").text)
    cookie = client.get_cookie("mild_draft")
    assert cookie is not None
    locations: list[str] = []
    barrier = threading.Barrier(2)

    def click() -> None:
        other = app.test_client()
        other.set_cookie("mild_draft", cookie.value)
        barrier.wait()
        locations.append(other.post("/request/check", data={"csrf_token": token}).headers.get("Location", ""))

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(app, ConsultationRequest) == 1
    assert locations == ["/request/sent", "/request/sent"]  # both clicks end on the confirmation
    assert count(app, OutboxMessage) == (1 if intake else 0)  # one notice for the one request


CONTACT_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    ({"first_name": "  "}, "first_name", "Enter your first name"),
    ({"last_name": "x" * 101}, "last_name", "100 characters or fewer"),
    ({"last_name": "Smith\u202egnp.exe"}, "last_name", "must only include letters"),
    ({"first_name": "An\x07a"}, "first_name", "must only include letters"),
    ({"date_of_birth-month": ""}, "date_of_birth", "must include a month"),
    ({"date_of_birth-day": "31", "date_of_birth-month": "2"}, "date_of_birth", "must be a real date"),
    ({"date_of_birth-year": "54"}, "date_of_birth", "4 numbers"),
    ({"date_of_birth-year": "1990"}, "date_of_birth", "you told us you are 72"),
    ({"date_of_birth-year": "2999"}, "date_of_birth", "must be in the past"),
    ({"date_of_birth-day": "", "date_of_birth-month": "", "date_of_birth-year": ""}, "date_of_birth",
     "Enter your date of birth"),
    ({"phone": "555"}, "phone", "Enter a real phone number"),
    ({"phone": "call me"}, "phone", "Enter a phone number"),
    ({"email": "ana@"}, "email", "correct format"),
    ({"preferred_contact": "email", "email": ""}, "email", "Enter an email address"),
    ({"preferred_contact": "pigeon"}, "preferred_contact", "Select how you would like us to contact you"),
    ({"insurance": ""}, "insurance", "Select your health insurance"),
    ({"message": "m" * 1001}, "message", "1000 characters or fewer"),
    ({"consent_contact": ""}, "consent_contact", "Confirm that the clinic may contact you"),
]


@pytest.mark.parametrize(("changes", "field", "message"), CONTACT_ERRORS)
def test_contact_validation(app: Flask, client: FlaskClient, changes: dict[str, Any], field: str, message: str) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    data = {k: v for k, v in {**CONTACT, **changes}.items() if v != "" or k.startswith("date")}
    response = client.post("/request", data={"csrf_token": token, **data})
    assert response.status_code == 200
    errors = error_messages(response.text.replace("&#39;", "'"))
    assert field in errors and message in errors[field], errors
    assert "<title>Error: " in response.text
    assert count(app, ConsultationRequest) == 0


def test_dob_consistent_within_one_year_is_accepted(app: Flask, client: FlaskClient) -> None:
    see_result(client, answers_with(age=71))  # born 3 April 1954: 72 in late 2026, within a year of 71
    assert send_request(client).headers["Location"] == "/request/sent"
    assert count(app, ConsultationRequest) == 1


def test_international_number_is_accepted_in_e164(app: Flask, client: FlaskClient) -> None:
    see_result(client, answers_with())
    send_request(client, {**CONTACT, "phone": "+52 55 1234 5678"})
    assert stored_request(app).phone == "+525512345678"


def test_request_pages_need_a_result_first(client: FlaskClient) -> None:
    assert client.get("/request").headers["Location"] == "/check-your-answers"
    assert client.get("/request/check").headers["Location"] == "/check-your-answers"
    assert client.get("/request/sent").headers["Location"] == "/check-your-answers"


def test_send_without_details_goes_back_to_the_form(app: Flask, client: FlaskClient) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    response = client.post("/request/check", data={"csrf_token": token})
    assert response.headers["Location"] == "/request"
    assert count(app, ConsultationRequest) == 0


# After sending: nothing leads to a silent second request, and the confirmation outlives the draft


def test_after_sending_answers_cannot_be_changed_and_the_page_says_how_to_tell_the_clinic(
    app: Flask, client: FlaskClient
) -> None:
    see_result(client, BASE_ANSWERS)
    send_request(client)
    reference = _only_reference(app)
    assert "Check or change your answers" not in client.get("/result").text
    assert "Request a consultation" not in client.get("/result").text
    for path in ("/check-your-answers", "/questions/age", "/questions/safety"):
        page = html.unescape(client.get(path).text)
        assert "The clinic already has your request" in page, path
        assert reference in page and "(415) 555-0134" in page
        assert 'name="age"' not in page  # no form to change anything
    token = csrf_token(client.get("/check-your-answers").text)
    forged = client.post("/questions/age", data={"csrf_token": token, "age": "50"})
    assert "The clinic already has your request" in forged.text
    assert client.get("/request").headers["Location"] == "/request/sent"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ConsultationRequest)) == 1


def test_the_confirmation_reassures_after_the_draft_has_expired(app: Flask, client: FlaskClient) -> None:
    see_result(client, BASE_ANSWERS)
    send_request(client)
    reference = _only_reference(app)
    with app.app_context():
        for draft in db.session.scalars(select(Draft)):
            draft.updated_at -= timedelta(hours=3)
        db.session.commit()
    response = client.get("/request/sent")
    assert response.headers["Location"] == "/session-ended"
    page = html.unescape(client.get("/session-ended").text)
    assert "Your request is safe with the clinic" in page and reference in page and "(415) 555-0134" in page
    assert "deleted" not in page
    page = html.unescape(client.get("/request/sent", follow_redirects=True).text)  # a reload later
    assert "Your request is safe with the clinic" in page


def test_start_a_new_self_check_for_someone_else(app: Flask, client: FlaskClient) -> None:
    see_result(client, BASE_ANSWERS)
    send_request(client)
    page = client.get("/check-your-answers").text
    response = client.post("/start-again", data={"csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/"
    assert 'name="red_flags"' in client.get("/questions/safety").text  # a fresh questionnaire
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0
        assert db.session.scalar(select(func.count()).select_from(ConsultationRequest)) == 1  # still there


def test_a_session_that_sent_nothing_still_hears_its_answers_were_deleted(app: Flask, client: FlaskClient) -> None:
    see_result(client, BASE_ANSWERS)
    with app.app_context():
        for draft in db.session.scalars(select(Draft)):
            draft.updated_at -= timedelta(hours=3)
        db.session.commit()
    assert client.get("/result").headers["Location"] == "/session-ended"
    assert "Your answers have been deleted" in html.unescape(client.get("/session-ended").text)


def _only_reference(app: Flask) -> str:
    with app.app_context():
        return db.session.scalars(select(ConsultationRequest.reference)).one()


@pytest.mark.parametrize(("changes", "errors"), [
    ({"voicemail": ""}, {"voicemail": "Select if the clinic may leave a voicemail message"}),
    ({"proxy_relationship": "son"}, {"proxy_name": "Enter the name of the person who may answer for you"}),
    ({"proxy_name": "Luis"},
     {"proxy_relationship": "Enter how they are related to you, for example daughter or friend"}),
    ({"preferred_language": "other", "other_language": "x" * 61},
     {"other_language": "Language must be 60 letters or fewer"}),
    ({"preferred_language": "en", "other_language": "Tagalog"}, {}),  # ignored unless "Another language"
])
def test_the_new_contact_questions_say_what_to_fix(
    app: Flask, client: FlaskClient, changes: dict[str, str], errors: dict[str, str]
) -> None:
    see_result(client, answers_with())
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **CONTACT, **changes})
    assert error_messages(response.text) == errors
    if not errors:
        client.post("/request/check", data={"csrf_token": token})
        assert stored_request(app).other_language is None
