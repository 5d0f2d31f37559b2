"""FHIR R4: the public Questionnaire, each request as a Bundle, the queue's Bundle; validated with fhir.resources."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.riskassessment import RiskAssessment
from fhir.resources.R4B.servicerequest import ServiceRequest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.exports.fhir import QUESTIONNAIRE_PATH, VERSION, answers_from_response, questionnaire, questionnaire_response
from app.exports.fhir_bundle import assessment_from_risk_assessment, request_entries
from app.extensions import db
from app.models import AuditEvent, ConsultationRequest
from app.screening import RULE_VERSION, assess
from app.screening.questions import BY_FIELD, PAGES, QUESTIONS, STEPS, Kind, Question, drop_inapplicable
from tests.answers import EVERY_PAGE_ANSWERS, answers_with
from tests.factories import CATEGORY_ANSWERS, login, make_staff, seed_request
from tests.test_security_headers import assert_secure_headers

BASE = "https://clinic.example"
MODELS = {"Patient": Patient, "QuestionnaireResponse": QuestionnaireResponse, "RiskAssessment": RiskAssessment,
          "ServiceRequest": ServiceRequest}
WORKED_EXAMPLES = [answers_with(), answers_with(red_flags=["saddle_numbness"]), answers_with(had_mri="no",
                   mri_findings=None), answers_with(main_pain="back", leg_symptoms="none"),
                   answers_with(blood_thinners=["anticoagulant"], thinner_hold_risk="no"), EVERY_PAGE_ANSWERS,
                   *CATEGORY_ANSWERS.values()]


def _answer(question: Question) -> st.SearchStrategy[Any]:
    if question.kind is Kind.INTEGER:
        return st.integers(question.minimum, question.maximum)
    if question.kind is Kind.MULTI:
        others = [code for code in question.codes if code not in question.exclusive]
        alone = [[code] for code in sorted(question.exclusive)]
        return st.one_of(st.sampled_from(alone), st.lists(st.sampled_from(others), min_size=1, unique=True))
    return st.sampled_from(question.codes)


# Any valid set of answers, from the definition: every question answered, then the ones that do not apply dropped.
valid_answers = st.fixed_dictionaries({q.field: _answer(q) for q in QUESTIONS}).map(drop_inapplicable)


def enabled(item: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """Evaluate an item's enableWhen (operator '=', behaviour 'any') the way a FHIR form filler would."""
    if "enableWhen" not in item:
        return True
    assert item["enableBehavior"] == "any"
    return any(cond["operator"] == "=" and _matches(answers.get(cond["question"]), cond) for cond in item["enableWhen"])


def _matches(given: Any, cond: Mapping[str, Any]) -> bool:
    """Whether an answer meets one condition: a yes/no by its boolean, a code (or any code of a list) by its code."""
    if "answerBoolean" in cond:
        return (given == "yes") is cond["answerBoolean"] if given in ("yes", "no") else False
    code = cond["answerCoding"]["code"]
    return code in given if isinstance(given, list) else given == code


def question_items(resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [item for group in resource["item"] for item in group["item"]]


def test_the_questionnaire_is_public_valid_fhir_with_the_security_headers(client: FlaskClient) -> None:
    response = client.get(QUESTIONNAIRE_PATH)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json"
    assert_secure_headers(response)
    data = json.loads(response.text)
    Questionnaire.model_validate(data)
    assert data["url"] == "http://127.0.0.1:5000" + QUESTIONNAIRE_PATH  # PUBLIC_BASE_URL in tests
    assert (data["status"], data["title"], data["version"]) == ("active", "MILD self-screen", VERSION)
    assert VERSION.startswith(RULE_VERSION + "+form.")


def test_questionnaire_items_follow_the_definition() -> None:
    data = questionnaire(BASE)
    assert [group["linkId"] for group in data["item"]] == list(STEPS)
    assert [i["linkId"] for i in question_items(data)] == [name for page in PAGES for name in page.fields]
    for group in data["item"]:
        assert {BY_FIELD[i["linkId"]].step for i in group["item"]} == {group["linkId"]}
    for item in question_items(data):
        question = BY_FIELD[item["linkId"]]
        assert item["text"] == question.text and item["required"] is True
        if question.kind is Kind.YESNO:
            assert item["type"] == "boolean"
        elif question.kind is Kind.INTEGER:
            assert item["type"] == "integer"
            assert [e["valueInteger"] for e in item["extension"]] == [question.minimum, question.maximum]
        else:
            assert item["type"] == "choice" and item.get("repeats", False) is (question.kind is Kind.MULTI)
            codings = [option["valueCoding"] for option in item["answerOption"]]
            assert [(c["code"], c["display"]) for c in codings] == [(o.code, o.label) for o in question.options]
            exclusive = {o["valueCoding"]["code"] for o in item["answerOption"] if "extension" in o}
            assert exclusive == set(question.exclusive)
        assert ("enableWhen" in item) is (question.applies is not None)


@given(valid_answers)
@settings(max_examples=300, deadline=None)
def test_enable_when_agrees_with_the_definition(answers: dict[str, Any]) -> None:
    for item in question_items(questionnaire(BASE)):
        assert enabled(item, answers) is BY_FIELD[item["linkId"]].is_asked(answers), item["linkId"]


def _round_trip(answers: dict[str, Any]) -> None:
    response = questionnaire_response(answers, reference="K7QM-4HXT", authored=datetime(2026, 11, 2, tzinfo=UTC),
                                      base_url=BASE)
    QuestionnaireResponse.model_validate(response)
    back = answers_from_response(json.loads(json.dumps(response)))
    assert back == answers
    assert assess(back) == assess(answers)
    shown = {i["linkId"] for i in question_items(questionnaire(BASE)) if enabled(i, answers)}
    assert {i["linkId"] for i in question_items(response)} == shown  # answers only what is enabled


@given(valid_answers)
@settings(max_examples=200, deadline=None)
def test_a_response_round_trips_to_the_same_answers_and_assessment(answers: dict[str, Any]) -> None:
    _round_trip(answers)


@pytest.mark.parametrize("answers", WORKED_EXAMPLES)
def test_worked_examples_round_trip(answers: dict[str, Any]) -> None:
    _round_trip(answers)


def test_response_answers_use_the_fitting_value_types() -> None:
    response = questionnaire_response(answers_with(), reference="K7QM-4HXT", base_url=BASE,
                                      authored=datetime(2026, 11, 2, tzinfo=UTC))
    by_id = {item["linkId"]: item["answer"] for item in question_items(response)}
    assert by_id["worse_standing_walking"] == [{"valueBoolean": True}]
    assert by_id["pain_score"] == [{"valueInteger": 7}]
    assert [a["valueCoding"]["code"] for a in by_id["mri_findings"]] == ["stenosis", "thick_ligament"]
    assert by_id["leg_symptoms"][0]["valueCoding"] == {
        "system": f"{BASE}{QUESTIONNAIRE_PATH}/codes/leg_symptoms", "code": "both_sides",
        "display": "Yes, on both sides"}
    assert response["status"] == "completed" and response["authored"] == "2026-11-02T00:00:00+00:00"
    assert response["questionnaire"] == f"{BASE}{QUESTIONNAIRE_PATH}|{VERSION}"


@pytest.mark.parametrize("category", sorted(CATEGORY_ANSWERS))
def test_every_resource_of_a_request_is_valid_and_the_assessment_reads_back(category: str) -> None:
    answers = CATEGORY_ANSWERS[category]
    row = {"reference": "K7QM-4HXT", "status": "closed", "outcome": "consult_booked", "category": category,
           "created_at": datetime(2026, 11, 3, 9, tzinfo=UTC), "screened_at": datetime(2026, 11, 3, 8, tzinfo=UTC),
           "first_name": "Ana", "last_name": "García", "date_of_birth": date(1954, 4, 3), "phone": "+14155550199",
           "email": "ana@example.com", "preferred_contact": "text", "best_time": "morning",
           "preferred_language": "es", "insurance": "medicare", "message": "Call after 10",
           "other_language": None, "voicemail": "no", "proxy_name": "María López", "proxy_relationship": "hija",
           "answers": answers, "assessment": assess(answers).to_dict(), "score": assess(answers).score,
           "cook_score": assess(answers).cook_score, "rule_version": RULE_VERSION}
    entries = request_entries(row, BASE)
    assert [e["resource"]["resourceType"] for e in entries] == list(MODELS)
    for entry in entries:
        MODELS[entry["resource"]["resourceType"]].model_validate(entry["resource"])
    Bundle.model_validate({"resourceType": "Bundle", "type": "collection", "entry": entries})
    patient, response, risk, service = (e["resource"] for e in entries)
    assert assessment_from_risk_assessment(risk, BASE) == assess(answers)
    assert assess(answers_from_response(response)) == assess(answers)
    assert patient["name"] == [{"use": "official", "family": "García", "given": ["Ana"]}]
    assert patient["contact"] == [{"relationship": [{"text": "hija"}], "name": {"text": "María López"}}]
    assert {(t["system"], t["rank"]) for t in patient["telecom"]} == {("phone", 2), ("sms", 1), ("email", 2)}
    assert (service["status"], service["note"]) == ("completed", [{"text": "Call after 10"}])
    assert service["priority"] == ("urgent" if category == "emergency" else "routine")


def _signed_in(app: Flask, role: str = "frontdesk") -> tuple[FlaskClient, dict[str, Any]]:
    account = make_staff(app, role)
    client = app.test_client()
    login(client, account)
    return client, account


def _exports(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")))


def _request_id(app: Flask, reference: str) -> int:
    with app.app_context():
        return db.session.scalars(select(ConsultationRequest.id).where(
            ConsultationRequest.reference == reference)).one()


def test_one_request_downloads_as_a_valid_bundle_and_is_audited(app: Flask) -> None:
    reference = seed_request(app, "possible", first_name="Zelda", last_name="Quixote", email="zq@example.com",
                             message="Mornings please")
    client, account = _signed_in(app)
    response = client.get(f"/staff/requests/{reference}/fhir.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == f'attachment; filename="mild-request-{reference}.fhir.json"'
    data = json.loads(response.text)
    Bundle.model_validate(data)
    assert data["type"] == "collection"
    resources = {e["resource"]["resourceType"]: e["resource"] for e in data["entry"]}
    for kind, model in MODELS.items():
        model.model_validate(resources[kind])
    assert resources["Patient"]["name"][0]["family"] == "Quixote"
    assert answers_from_response(resources["QuestionnaireResponse"]) == CATEGORY_ANSWERS["possible"]
    base = app.config["PUBLIC_BASE_URL"]
    assert assessment_from_risk_assessment(resources["RiskAssessment"], base) == assess(CATEGORY_ANSWERS["possible"])
    [event] = _exports(app)
    assert (event.staff_id, event.ip, event.target_type, event.target_id) == (
        account["id"], "127.0.0.1", "consultation_request", str(_request_id(app, reference)))
    assert event.detail == {"format": "fhir"}


def test_the_filtered_queue_downloads_as_one_bundle_audited_like_the_csv(app: Flask) -> None:
    wanted = {seed_request(app, "possible", phone=f"+1415555010{n}") for n in range(3)}
    seed_request(app, "likely", phone="+14155550120")
    client, account = _signed_in(app, "admin")
    response = client.get("/staff/requests.fhir.json?category=possible&from=2020-01-01&after=1.1.1")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "application/fhir+json"
    assert response.headers["Content-Disposition"].endswith('.fhir.json"')
    data = json.loads(response.get_data(as_text=True))
    Bundle.model_validate(data)
    requests = [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "ServiceRequest"]
    assert {r["identifier"][0]["value"] for r in requests} == wanted
    assert len(data["entry"]) == 4 * len(wanted)
    [event] = _exports(app)
    assert event.staff_id == account["id"] and event.target_type is None
    assert event.detail == {"status": "open", "view": "", "category": "possible", "assignee": "",
                            "from": "2020-01-01", "to": "", "searched": False, "format": "fhir"}


def test_an_empty_queue_is_an_empty_valid_bundle(app: Flask) -> None:
    client, _ = _signed_in(app)
    data = json.loads(client.get("/staff/requests.fhir.json").get_data(as_text=True))
    assert data["entry"] == []
    Bundle.model_validate(data)


@pytest.mark.parametrize("query", ["?category=bogus", "?q=Smith", "?search=made-up"])
def test_an_unusable_filter_downloads_nothing(app: Flask, query: str) -> None:
    seed_request(app)
    client, _ = _signed_in(app)
    response = client.get(f"/staff/requests.fhir.json{query}")
    assert response.status_code == 303 and response.headers["Location"].startswith("/staff/requests")
    assert "Smith" not in response.headers["Location"]
    assert _exports(app) == []


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("frontdesk", 200), ("clinician", 403)])
def test_fhir_downloads_are_for_the_csv_export_roles(app: Flask, role: str, status: int) -> None:
    reference = seed_request(app)
    client, _ = _signed_in(app, role)
    for url in ("/staff/requests.fhir.json", f"/staff/requests/{reference}/fhir.json"):
        response = client.get(url)
        assert response.status_code == status, url
        response.close()
    assert len(_exports(app)) == (2 if status == 200 else 0)


def test_an_unknown_request_is_404_and_not_audited(app: Flask) -> None:
    client, _ = _signed_in(app)
    assert client.get("/staff/requests/AAAA-BBBB/fhir.json").status_code == 404
    assert _exports(app) == []


@pytest.mark.parametrize(("role", "shown"), [("frontdesk", True), ("admin", True), ("clinician", False)])
def test_the_queue_and_the_request_page_link_their_downloads(app: Flask, role: str, shown: bool) -> None:
    reference = seed_request(app, "likely")
    client, _ = _signed_in(app, role)
    queue = client.get("/staff/requests?category=likely").text
    assert ('href="/staff/requests.fhir.json?category=likely"' in queue) is shown
    page = client.get(f"/staff/requests/{reference}").text
    assert (f'href="/staff/requests/{reference}/fhir.json"' in page) is shown


def test_the_queue_bundle_is_read_in_batches_in_queue_order(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.exports.rows.FETCH_BATCH", 3)
    monkeypatch.setattr("app.exports.rows.FLUSH_ROWS", 2)
    references = [seed_request(app, ("possible", "likely")[n % 2], phone=f"+1415555020{n}") for n in range(7)]
    client, _ = _signed_in(app)
    response = client.get("/staff/requests.fhir.json")
    chunks = list(response.response)
    response.close()
    assert len(chunks) > 3  # the opening, a chunk every 2 requests, the close: never the whole body at once
    data = json.loads(b"".join(chunks))
    Bundle.model_validate(data)
    order = [e["resource"]["identifier"][0]["value"] for e in data["entry"]
             if e["resource"]["resourceType"] == "ServiceRequest"]
    likely = [r for n, r in enumerate(references) if n % 2]
    assert order == likely + [r for r in references if r not in likely]  # each once, in queue order
