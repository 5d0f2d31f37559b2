"""The patient questionnaire through the real HTTP stack, on a migrated SQLite file."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.intake.drafts import hash_token
from app.models import ConsultationRequest, Draft, Screening, utcnow
from app.screening.questions import BY_FIELD, PAGES, Kind
from tests.answers import BASE_ANSWERS, EVERY_PAGE_ANSWERS, answers_with
from tests.journey import answer_all, csrf_token, error_messages, form_data, post_page, see_result, send_request


def title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match
    return match.group(1).strip()


def draft_answers(app: Flask) -> dict[str, Any]:
    with app.app_context():
        drafts = db.session.scalars(select(Draft)).all()
        assert len(drafts) == 1
        return dict(drafts[0].answers)


def test_start_page_says_what_it_is_and_what_is_stored(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    text = response.text
    assert "about 5 minutes" in text
    assert "without your name" in text  # screenings are stored even without a request
    assert 'href="/questions/safety"' in text
    assert "Demo Spine &amp; Pain Clinic" in text


@pytest.mark.parametrize("page", PAGES, ids=[p.slug for p in PAGES])
def test_every_page_reports_each_missing_answer(client: FlaskClient, page: Any) -> None:
    answers = {k: v for k, v in EVERY_PAGE_ANSWERS.items() if k not in page.fields}
    answer_all(client, answers)  # stops at this page: everything before it is answered
    response = post_page(client, page.slug, {})
    assert response.status_code == 200
    assert title(response.text).startswith("Error: ")
    errors = error_messages(response.text)
    assert errors == {name: BY_FIELD[name].required_message for name in page.fields}
    for name in page.fields:  # each field carries its own message, tied to it for screen readers
        assert f'id="{name}-error"' in response.text
        assert re.search(rf'aria-describedby="[^"]*{name}-error', response.text)


def test_errors_keep_what_the_patient_typed(client: FlaskClient) -> None:
    answer_all(client, {"red_flags": ["none"]})
    answer_all(client, {k: v for k, v in BASE_ANSWERS.items() if k not in ("symptom_duration", "pain_score", "age")})
    response = post_page(client, "pain", {"symptom_duration": "over_12_months", "pain_score": "11"})
    assert error_messages(response.text) == {"pain_score": BY_FIELD["pain_score"].invalid_message}
    assert 'value="over_12_months" checked' in response.text  # the other answer on the page is kept
    answer_all(client, {k: v for k, v in BASE_ANSWERS.items() if k != "age"})
    response = post_page(client, "age", {"age": "seventy"})
    assert error_messages(response.text) == {"age": BY_FIELD["age"].invalid_message}
    assert 'value="seventy"' in response.text


@pytest.mark.parametrize(
    ("slug", "field", "values"),
    [
        ("safety", "red_flags", ["none", "fever"]),
        ("health", "blood_thinners", ["aspirin", "none"]),
        ("scan-results", "mri_findings", ["stenosis", "not_sure"]),
    ],
)
def test_exclusive_answer_with_another_is_refused(
    client: FlaskClient, slug: str, field: str, values: list[str]
) -> None:
    page = next(p for p in PAGES if p.slug == slug)
    answer_all(client, {k: v for k, v in BASE_ANSWERS.items() if k not in page.fields})
    response = post_page(client, slug, {**form_data(page, BASE_ANSWERS), field: values})
    assert response.status_code == 200
    assert "on its own" in error_messages(response.text)[field]


@pytest.mark.parametrize(
    ("field", "value"),
    [("leg_symptoms", "sideways"), ("age", "17"), ("age", "121"), ("pain_score", "-1"), ("pain_score", "7.5"),
     ("age", "9" * 5000), ("worse_standing_walking", "maybe")],
)
def test_out_of_range_or_unknown_answers_are_refused(client: FlaskClient, field: str, value: str) -> None:
    page = next(page for page in PAGES if field in page.fields)
    answer_all(client, {k: v for k, v in BASE_ANSWERS.items() if k not in page.fields})
    response = post_page(client, page.slug, {**form_data(page, BASE_ANSWERS), field: value})
    assert response.status_code == 200
    assert field in error_messages(response.text)
    assert field not in draft_answers(client.application)


def test_a_full_questionnaire_is_stored_as_a_draft_of_codes(app: Flask, client: FlaskClient) -> None:
    response = answer_all(client, BASE_ANSWERS)
    assert response.headers["Location"] == "/check-your-answers"
    assert draft_answers(app) == BASE_ANSWERS


def test_conditional_pages_are_skipped_when_they_do_not_apply(client: FlaskClient) -> None:
    symptoms = [name for page in PAGES if page.step == "symptoms" for name in page.fields]
    answer_all(client, {"red_flags": ["none"], **{k: BASE_ANSWERS[k] for k in symptoms}})
    response = post_page(client, "treatments", {"tried_pt": "no", "tried_injections": "no",
                                                "tried_medications": "no", "prior_back_surgery": "no"})
    assert response.headers["Location"] == "/questions/imaging"
    response = post_page(client, "imaging", {"had_mri": "no"})
    assert response.headers["Location"] == "/questions/health"
    back = client.get("/questions/health").text
    assert '<a href="/questions/imaging" class="back-link">' in back
    # A page that does not apply cannot be reached by typing its address.
    assert client.get("/questions/scan-results").headers["Location"] == "/questions/health"


def test_answers_that_no_longer_apply_are_dropped(app: Flask, client: FlaskClient) -> None:
    answer_all(client, BASE_ANSWERS)
    post_page(client, "imaging", {"had_mri": "no"}, query="?return=check")
    post_page(client, "treatments", {"tried_pt": "no", "tried_injections": "no", "tried_medications": "no",
                                     "prior_back_surgery": "no"}, query="?return=check")
    stored = draft_answers(app)
    assert "mri_findings" not in stored
    assert "conservative_duration" not in stored
    assert stored["had_mri"] == "no"


def test_change_link_returns_to_check_page(client: FlaskClient) -> None:
    answer_all(client, BASE_ANSWERS)
    check = client.get("/check-your-answers").text
    assert 'href="/questions/age?return=check#age"' in check
    change = client.get("/questions/age?return=check")
    assert '<a href="/check-your-answers" class="back-link">' in change.text
    assert 'value="72"' in change.text  # pre-filled
    response = post_page(client, "age", {"age": "73"}, "?return=check")
    assert response.headers["Location"] == "/check-your-answers"
    assert ">73<" in client.get("/check-your-answers").text.replace("\n", "").replace(" ", "")


def test_change_that_opens_a_new_question_asks_it_before_returning(client: FlaskClient) -> None:
    answer_all(client, answers_with(had_mri="no", mri_findings=None))
    response = post_page(client, "imaging", {"had_mri": "yes_older"}, "?return=check")
    assert response.headers["Location"] == "/questions/scan-results?return=check"
    response = post_page(client, "scan-results", {"mri_findings": ["thick_ligament"]}, "?return=check")
    assert response.headers["Location"] == "/check-your-answers"


def test_back_button_shows_saved_answers(client: FlaskClient) -> None:
    answer_all(client, BASE_ANSWERS)
    page = client.get("/questions/safety")
    assert 'value="none" checked' in page.text
    assert page.headers["Cache-Control"] == "no-store"  # the browser refetches, so it shows what is saved
    assert '<a href="/questions/safety" class="back-link">' in client.get("/questions/symptoms").text


def test_skipping_ahead_goes_to_the_first_unanswered_page(client: FlaskClient) -> None:
    assert client.get("/questions/health").headers["Location"] == "/questions/safety"
    assert client.get("/check-your-answers").headers["Location"] == "/questions/safety"
    assert client.get("/result").headers["Location"] == "/check-your-answers"
    answer_all(client, {"red_flags": ["none"]})
    assert client.get("/questions/health").headers["Location"] == "/questions/symptoms"


def test_unknown_page_is_404(client: FlaskClient) -> None:
    response = client.get("/questions/nope")
    assert response.status_code == 404
    assert "Page not found" in response.text


@pytest.mark.parametrize("flag", ["bladder_bowel", "saddle_numbness", "worsening_weakness", "fever"])
def test_emergency_answer_sends_patient_to_emergency_care_at_once(client: FlaskClient, flag: str) -> None:
    response = post_page(client, "safety", {"red_flags": [flag, "weight_loss"]})
    assert response.headers["Location"] == "/get-help-now"
    page = client.get("/get-help-now").text
    assert "Get medical help now" in page
    assert 'href="tel:911"' in page
    assert 'href="/questions/symptoms"' in page  # they may carry on once they have help


def test_cookie_carries_only_the_draft_id(app: Flask, client: FlaskClient) -> None:
    answer_all(client, BASE_ANSWERS)
    cookie = client.get_cookie("mild_draft")
    assert cookie is not None
    payload = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    assert set(payload) == {"csrf_token", "draft"}
    for value in ("both_sides", "thick_ligament", "yes_no_lasting_relief", "5_to_15_min"):
        assert value not in str(payload)
    with app.app_context():
        stored = db.session.get(Draft, hash_token(payload["draft"]))
        assert stored is not None  # only the token's hash is a key in the database
        assert db.session.get(Draft, payload["draft"]) is None


def test_after_sending_the_cookie_adds_only_the_reference(app: Flask, client: FlaskClient) -> None:
    see_result(client, BASE_ANSWERS)
    send_request(client)
    cookie = client.get_cookie("mild_draft")
    assert cookie is not None
    payload = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    assert set(payload) == {"csrf_token", "draft", "sent"}
    with app.app_context():
        assert payload["sent"] == db.session.scalars(select(ConsultationRequest.reference)).one()
    # Nothing of the contact details. Whole values: a random token can hold "555" or "1954" by chance.
    for value in ("García", "Ana", "4155550199", "555-0199", "1954-04-03", "medicare"):
        assert value not in str(payload)


def test_draft_expires_after_two_hours_idle(app: Flask, client: FlaskClient) -> None:
    answer_all(client, {"red_flags": ["none"]})
    with app.app_context():
        draft = db.session.scalars(select(Draft)).one()
        draft.updated_at -= timedelta(hours=2, minutes=1)
        db.session.commit()
    response = client.get("/questions/symptoms")
    assert response.headers["Location"] == "/session-ended"
    assert "Your answers have been deleted" in client.get("/session-ended").text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0
    assert client.get("/questions/symptoms").headers["Location"] == "/questions/safety"  # a fresh start


def test_draft_lives_on_with_activity(app: Flask, client: FlaskClient) -> None:
    answer_all(client, {"red_flags": ["none"]})
    with app.app_context():
        draft = db.session.scalars(select(Draft)).one()
        draft.updated_at -= timedelta(hours=1, minutes=59)
        db.session.commit()
    assert client.get("/questions/symptoms").status_code == 200
    with app.app_context():  # the page view is activity: recorded, so the idle time starts again
        seen = db.session.scalars(select(Draft)).one().updated_at
        assert utcnow() - seen < timedelta(minutes=1)
    assert client.get("/questions/symptoms").status_code == 200
    with app.app_context():  # a view soon after is not written again
        assert db.session.scalars(select(Draft)).one().updated_at == seen


def test_check_page_lists_every_answer_in_words(client: FlaskClient) -> None:
    answer_all(client, BASE_ANSWERS)
    page = client.get("/check-your-answers").text
    for name in BASE_ANSWERS:
        question = BY_FIELD[name]
        assert question.summary in page
        if question.kind in (Kind.SINGLE, Kind.YESNO):
            assert question.label_for(BASE_ANSWERS[name]) in page
    assert "thick_ligament" not in page.split("<main")[1].replace('#mri_findings', '')  # no codes on screen


def test_screening_is_stored_without_a_request(app: Flask, client: FlaskClient) -> None:
    see_result(client, BASE_ANSWERS)
    with app.app_context():
        screening = db.session.scalars(select(Screening)).one()
        assert screening.answers == BASE_ANSWERS
        assert screening.category == "likely"
        assert screening.rule_version == "2026.2"
        assert screening.request is None


def test_confirming_twice_stores_one_screening(app: Flask, client: FlaskClient) -> None:
    see_result(client, BASE_ANSWERS)
    token = csrf_token(client.get("/check-your-answers").text)
    assert client.post("/check-your-answers", data={"csrf_token": token}).headers["Location"] == "/result"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Screening)) == 1


def test_changing_an_answer_after_the_result_gives_a_new_screening(app: Flask, client: FlaskClient) -> None:
    see_result(client, BASE_ANSWERS)
    post_page(client, "imaging", {"had_mri": "no"}, "?return=check")
    assert client.get("/result").headers["Location"] == "/check-your-answers"  # old result no longer shown
    token = csrf_token(client.get("/check-your-answers").text)
    client.post("/check-your-answers", data={"csrf_token": token})
    assert "Some of your answers match" in client.get("/result").text
    with app.app_context():
        categories = db.session.scalars(select(Screening.category).order_by(Screening.id)).all()
        assert categories == ["likely", "possible"]


def test_showing_a_page_leaves_the_patient_cookie_alone(client: FlaskClient) -> None:
    # Only a change (a new draft, a language choice) sets the cookie; reading a page must not re-sign it, nor
    # touch the staff console's sign-in state (Flask-Login used to clear a remember cookie on every page).
    answer_all(client, {"red_flags": ["none"]})
    response = client.get("/questions/symptoms")
    assert response.status_code == 200
    assert response.headers.getlist("Set-Cookie") == []


def _headings(html: str) -> tuple[str, str]:
    step = re.search(r'<p class="caption">([^<]+)</p>', html)
    heading = re.search(r'<h1 class="heading-l">([^<]+)</h1>', html)
    assert step and heading
    return step.group(1), heading.group(1)


def test_the_symptoms_step_is_short_pages_each_saying_which_step_it_is(client: FlaskClient) -> None:
    seen = []
    answer_all(client, {"red_flags": ["none"]})
    for slug in ("symptoms", "standing-and-walking", "pain", "age"):
        html = client.get(f"/questions/{slug}").text
        seen.append(_headings(html))
        assert len(re.findall(r'<legend class="legend">', html)) + html.count('<label class="legend"') <= 4
        page = next(p for p in PAGES if p.slug == slug)
        post_page(client, slug, form_data(page, BASE_ANSWERS))
    assert seen == [("Step 2 of 5", "Your symptoms"), ("Step 2 of 5", "Standing and walking"),
                    ("Step 2 of 5", "Your pain"), ("Step 2 of 5", "Your age")]
    assert _headings(client.get("/questions/treatments").text) == ("Step 3 of 5", "Treatments you have tried")
    assert _headings(client.get("/questions/safety").text)[0] == "Step 1 of 5"


def test_no_leg_symptoms_means_the_questions_ask_about_back_pain(app: Flask, client: FlaskClient) -> None:
    answer_all(client, {"red_flags": ["none"], "leg_symptoms": "none", "main_pain": "back"})
    html = client.get("/questions/standing-and-walking").text
    assert "Does your back pain start or get worse when you stand or walk?" in html
    assert "Does your back pain ease when you sit down or bend forward?" in html
    assert "your symptoms" not in html
    errors = error_messages(post_page(client, "standing-and-walking", {}).text)
    assert errors["worse_standing_walking"] == (
        "Select yes if your back pain starts or gets worse when you stand or walk")
    post_page(client, "standing-and-walking", {"worse_standing_walking": "yes", "relief_sitting_bending": "no",
                                               "pain_when_seated": "no", "walking_limit": "over_30_min"})
    assert "How long have you had your back pain?" in client.get("/questions/pain").text
    stored = draft_answers(app)  # the same fields and codes as for anyone else
    assert stored["worse_standing_walking"] == "yes" and stored["relief_sitting_bending"] == "no"


def test_with_leg_symptoms_the_questions_ask_about_symptoms(client: FlaskClient) -> None:
    answer_all(client, {"red_flags": ["none"], "leg_symptoms": "both_sides", "main_pain": "legs"})
    html = client.get("/questions/standing-and-walking").text
    assert "Do your symptoms start or get worse when you stand or walk?" in html
    assert "Does your back pain" not in html and "How long have you had your back pain" not in html


def test_pain_is_chosen_from_0_to_10_with_both_ends_named(client: FlaskClient) -> None:
    answer_all(client, {k: v for k, v in BASE_ANSWERS.items() if k not in ("symptom_duration", "pain_score", "age")})
    html = client.get("/questions/pain").text
    assert re.findall(r'name="pain_score" type="radio" value="(\d+)"', html) == [str(n) for n in range(11)]
    assert 'type="text"' not in html and 'name="pain_score" type="text"' not in html
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "0 No pain" in text and "10 The worst pain you can imagine" in text
    post_page(client, "pain", {"symptom_duration": "over_12_months", "pain_score": "6"})
    assert re.search(r'value="6"\s+checked', client.get("/questions/pain").text)  # shown again as chosen
