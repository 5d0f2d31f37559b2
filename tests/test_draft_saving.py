"""What a question page's POST stores in the patient's draft, read back from the database."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import Draft, Screening
from app.screening.questions import PAGES
from tests.answers import BASE_ANSWERS
from tests.journey import answer_all, csrf_token, form_data, post_page, see_result


def _only_draft(app: Flask) -> Draft:
    with app.app_context():
        draft = db.session.scalars(select(Draft)).one()
        db.session.expunge(draft)
        return draft


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_changed_answer_is_saved_and_the_result_must_be_checked_again(app: Flask, client: FlaskClient) -> None:
    see_result(client, BASE_ANSWERS)
    assert _only_draft(app).screening_id is not None
    changed = 3 if BASE_ANSWERS["pain_score"] != 3 else 4
    page = next(page for page in PAGES if "pain_score" in page.fields)
    assert post_page(client, page.slug, form_data(page, {**BASE_ANSWERS, "pain_score": changed})).status_code == 303
    draft = _only_draft(app)
    assert draft.answers["pain_score"] == changed and draft.screening_id is None
    assert _count(app, Screening) == 1  # the screening itself is kept
    assert client.get("/result").headers["Location"] == "/check-your-answers"


def test_the_same_answers_again_keep_the_result(app: Flask, client: FlaskClient) -> None:
    see_result(client, BASE_ANSWERS)
    before = _only_draft(app)
    page = PAGES[0]
    assert post_page(client, page.slug, form_data(page, BASE_ANSWERS)).status_code == 303
    after = _only_draft(app)
    assert after.answers == before.answers and after.screening_id == before.screening_id
    assert client.get("/result").status_code == 200


def test_answers_that_no_longer_apply_are_dropped(app: Flask, client: FlaskClient) -> None:
    answer_all(client, BASE_ANSWERS)
    assert _only_draft(app).answers.get("mri_findings")  # the scan results were asked
    post_page(client, "imaging", {"had_mri": "no"})
    answers = _only_draft(app).answers
    assert answers["had_mri"] == "no" and "mri_findings" not in answers


def test_a_post_whose_draft_went_meanwhile_says_the_session_ended(app: Flask, client: FlaskClient) -> None:
    post_page(client, "safety", {"red_flags": ["none"]})
    token = csrf_token(client.get("/questions/symptoms").text)
    with app.app_context():
        db.session.execute(delete(Draft))  # e.g. the retention job, after the page was shown
        db.session.commit()
    response = client.post("/questions/symptoms", data={"csrf_token": token, **form_data(PAGES[1], BASE_ANSWERS)})
    assert response.headers["Location"] == "/session-ended"
    assert _count(app, Draft) == 0


def test_an_invalid_first_answer_stores_no_draft(app: Flask, client: FlaskClient) -> None:
    response = post_page(client, "safety", {})
    assert response.status_code == 200  # the page again, with its error
    assert _count(app, Draft) == 0
    assert post_page(client, "safety", {"red_flags": ["none"]}).status_code == 303
    assert _count(app, Draft) == 1
