"""FHIR R4 resources generated from the one definition of the questionnaire, as plain dicts.

- ``questionnaire``: the questionnaire itself (public, no patient data). Items are grouped per step;
  linkIds are the spec's field names; codes are ``answerOption`` codings; conditional questions carry
  ``enableWhen``, derived by asking each question's own ``applies`` rule (see ``enable_when``).
- ``questionnaire_response``: one screening's answers, by linkId; ``answers_from_response`` reads them back.
app/exports/fhir_bundle.py puts a consultation request together as a Bundle; app/exports/fhir_export.py reads
the database.

Resource ids are UUIDs derived from the request's reference, so the same request always gives the same ids
and a receiving system can recognise a second download of it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.screening.questions import BY_FIELD, PAGES, QUESTIONS, STEP_TITLES, STEPS, Kind, Question
from app.screening.rules import RULE_VERSION

QUESTIONNAIRE_ID = "mild-screen"
QUESTIONNAIRE_PATH = f"/fhir/Questionnaire/{QUESTIONNAIRE_ID}"
FHIR_JSON = "application/fhir+json"
EXT = "http://hl7.org/fhir/StructureDefinition/"
ITEM_CONTROL = "http://hl7.org/fhir/questionnaire-item-control"
_NAMESPACE = uuid.UUID("5f0c6a43-8e0e-4a43-9d3b-6a1a6c0b2f11")  # fixed: ids stay the same across releases

Answers = Mapping[str, Any]
Resource = dict[str, Any]


def _fingerprint() -> str:
    """A short hash of everything a respondent sees or a receiver relies on: changes whenever the form does."""
    shape = [
        [q.field, q.step, q.kind.value, str(q.text), str(q.hint or ""), q.minimum, q.maximum, sorted(q.exclusive),
         [[o.code, str(o.label)] for o in q.options], q.applies_when or ""]
        for q in QUESTIONS
    ]
    shape.append([[page.slug, list(page.fields)] for page in PAGES])
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()[:10]


# The form has no hand-kept version number: a hand-kept one would drift. It is the fingerprint of the definition.
FORM_VERSION = _fingerprint()
VERSION = f"{RULE_VERSION}+form.{FORM_VERSION}"


def canonical_url(base_url: str) -> str:
    """The questionnaire's canonical URL: where this deployment serves it (``PUBLIC_BASE_URL``)."""
    return base_url.rstrip("/") + QUESTIONNAIRE_PATH


def extension_url(base_url: str, name: str) -> str:
    """The URL of one of this app's own extensions (contact preferences, the fit score)."""
    return f"{base_url.rstrip('/')}/fhir/StructureDefinition/{name}"


def code_system(base_url: str, name: str) -> str:
    """The code system of one field's codes (or of a contact-detail choice), under the questionnaire's URL."""
    return f"{canonical_url(base_url)}/codes/{name}"


def _item_type(question: Question) -> str:
    return {Kind.SINGLE: "choice", Kind.MULTI: "choice", Kind.YESNO: "boolean", Kind.INTEGER: "integer"}[question.kind]


def enable_when(question: Question, base_url: str) -> list[dict[str, Any]]:
    """``applies`` as FHIR conditions (behaviour ``any``): each other answer that, on its own, makes it apply.

    The rule is a function, so it is asked rather than read: with every other answer absent, which single
    (field, code) makes it true (for a multiple-choice field, that code chosen on its own)? That covers the
    "any of these answers" conditions the spec has; a test checks on many answer sets that the conditions and
    ``applies`` agree.
    """
    if question.applies is None:
        return []
    if question.is_asked({}):
        raise ValueError(f"{question.field}: a condition that holds with no answers cannot be expressed")
    conditions: list[dict[str, Any]] = []
    for other in QUESTIONS:
        if other is question or other.kind is Kind.INTEGER:
            continue
        for code in other.codes:
            # A multiple-choice answer holds a list: the condition is that this code is among the chosen ones.
            given = [code] if other.kind is Kind.MULTI else code
            if question.is_asked({other.field: given}):
                conditions.append({"question": other.field, "operator": "=",
                                   **_answer_value(other, code, base_url, "answer")})
    if not conditions:
        raise ValueError(f"{question.field}: no single answer makes it apply; its condition needs a new mapping")
    return conditions


def _answer_value(question: Question, value: Any, base_url: str, prefix: str = "value") -> dict[str, Any]:
    """One answer as a FHIR ``value[x]`` (``answer[x]`` in enableWhen)."""
    if question.kind is Kind.YESNO:
        return {f"{prefix}Boolean": value == "yes"}
    if question.kind is Kind.INTEGER:
        return {f"{prefix}Integer": int(value)}
    return {f"{prefix}Coding": {"system": code_system(base_url, question.field), "code": str(value),
                                "display": str(question.label_for(str(value)))}}


def _question_item(question: Question, base_url: str) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": question.field, "text": str(question.text), "type": _item_type(question),
                            "required": True}
    if question.kind is Kind.MULTI:
        item["repeats"] = True
    if question.kind in (Kind.SINGLE, Kind.MULTI):
        item["answerOption"] = [
            {"valueCoding": {"system": code_system(base_url, question.field), "code": o.code, "display": str(o.label)},
             **({"extension": [{"url": EXT + "questionnaire-optionExclusive", "valueBoolean": True}]}
                if o.code in question.exclusive else {})}
            for o in question.options
        ]
    if question.kind is Kind.INTEGER:
        item["extension"] = [{"url": EXT + "minValue", "valueInteger": question.minimum},
                             {"url": EXT + "maxValue", "valueInteger": question.maximum}]
    conditions = enable_when(question, base_url)
    if conditions:
        item["enableWhen"] = conditions
        item["enableBehavior"] = "any"
    if question.hint:
        item["item"] = [{
            "linkId": f"{question.field}.hint", "text": str(question.hint), "type": "display",
            "extension": [{"url": EXT + "questionnaire-itemControl", "valueCodeableConcept": {
                "coding": [{"system": ITEM_CONTROL, "code": "flyover"}]}}],
        }]
    return item


def _steps() -> list[tuple[str, list[Question]]]:
    """Questions per step, in the order the pages ask them."""
    ordered = [BY_FIELD[name] for page in PAGES for name in page.fields]
    return [(step, [q for q in ordered if q.step == step]) for step in STEPS]


def questionnaire(base_url: str, publisher: str | None = None) -> Resource:
    """The FHIR R4 ``Questionnaire`` for rule set 2026.1 and this form version."""
    resource: Resource = {
        "resourceType": "Questionnaire",
        "id": QUESTIONNAIRE_ID,
        "url": canonical_url(base_url),
        "version": VERSION,
        "name": "MildSelfScreen",
        "title": "MILD self-screen",
        "status": "active",
        "subjectType": ["Patient"],
        "description": ("A self-check for lumbar spinal stenosis and minimally invasive lumbar decompression "
                        f"(MILD), rule set {RULE_VERSION}. A screening, not a diagnosis."),
        "item": [
            {"linkId": step, "text": str(STEP_TITLES[step]), "type": "group",
             "item": [_question_item(q, base_url) for q in questions]}
            for step, questions in _steps()
        ],
    }
    if publisher:
        resource["publisher"] = publisher
    return resource


def resource_id(kind: str, reference: str) -> str:
    """The stable id of one of a request's resources."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{reference}"))


def full_url(kind: str, reference: str) -> str:
    """How the bundle's resources refer to each other."""
    return f"urn:uuid:{resource_id(kind, reference)}"


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def questionnaire_response(answers: Answers, *, reference: str, authored: datetime, base_url: str) -> Resource:
    """One screening's answers as a completed ``QuestionnaireResponse``; unasked questions are left out."""
    groups = []
    for step, questions in _steps():
        items = []
        for question in questions:
            value = answers.get(question.field)
            if value is None or not question.is_asked(answers):
                continue
            values = value if question.kind is Kind.MULTI else [value]
            items.append({"linkId": question.field, "text": str(question.text_for(answers)),
                          "answer": [_answer_value(question, v, base_url) for v in values]})
        if items:
            groups.append({"linkId": step, "text": str(STEP_TITLES[step]), "item": items})
    return {
        "resourceType": "QuestionnaireResponse",
        "id": resource_id("QuestionnaireResponse", reference),
        "identifier": {"system": code_system(base_url, "request-reference"), "value": reference},
        "questionnaire": f"{canonical_url(base_url)}|{VERSION}",
        "status": "completed",
        "subject": {"reference": full_url("Patient", reference)},
        "authored": _instant(authored),
        "item": groups,
    }


class UnreadableResponse(ValueError):
    """A QuestionnaireResponse that does not answer this questionnaire's questions in its codes."""


def _read_answer(question: Question, answer: Mapping[str, Any]) -> Any:
    if question.kind is Kind.YESNO and isinstance(answer.get("valueBoolean"), bool):
        return "yes" if answer["valueBoolean"] else "no"
    if question.kind is Kind.INTEGER and "valueInteger" in answer:
        return int(answer["valueInteger"])
    coding = answer.get("valueCoding") or {}
    if question.kind in (Kind.SINGLE, Kind.MULTI) and coding.get("code") in question.codes:
        return coding["code"]
    raise UnreadableResponse(f"{question.field}: an answer this question does not take")


def answers_from_response(response: Mapping[str, Any]) -> dict[str, Any]:
    """The answers a ``QuestionnaireResponse`` holds, keyed by field, as the rules expect them."""
    answers: dict[str, Any] = {}
    pending = list(response.get("item") or [])
    while pending:
        item = pending.pop(0)
        pending.extend(item.get("item") or [])
        question = BY_FIELD.get(item.get("linkId", ""))
        if question is None:
            continue  # a group
        values = [_read_answer(question, answer) for answer in item.get("answer") or []]
        answers[question.field] = values if question.kind is Kind.MULTI else (values[0] if values else None)
    return answers
