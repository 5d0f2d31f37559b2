"""One consultation request as FHIR R4 resources in a ``collection`` Bundle, as plain dicts.

Each request gives four resources, which refer to each other by ``urn:uuid`` full URLs:

- ``Patient``: the contact details (name, birth date, phone and email with the preferred way ranked 1,
  language; best time to call and insurance as this app's extensions).
- ``QuestionnaireResponse``: the answers (app/exports/fhir.py).
- ``RiskAssessment``: the assessment. A resource rather than an extension on the response, because a
  receiving EHR files and shows a RiskAssessment without knowing this app, and its ``basis`` points at the
  answers it was computed from. The category goes in ``prediction.qualitativeRisk`` only: the fit score is
  not a probability (spec section 3), so it is an extension, never ``probabilityDecimal``. Every rule id
  that fired, was met or was not met is an extension coding with its staff text, so the assessment can be
  read back exactly (``assessment_from_risk_assessment``).
- ``ServiceRequest``: the request itself: its reference, status, when it was sent, the patient's message.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from app.casework.status import OUTCOME_LABELS, STATUS_LABELS
from app.exports.fhir import (
    Resource,
    code_system,
    extension_url,
    full_url,
    questionnaire_response,
    resource_id,
)
from app.intake import contact
from app.intake.documents import kind_label
from app.models import Document
from app.screening.rules import Assessment
from app.screening.texts import RULE_TEXTS

CATEGORY_LABELS = {"emergency": "Emergency: needs urgent medical care", "likely": "Likely fit",
                   "possible": "Possible fit", "unlikely": "Unlikely fit"}
RULE_KINDS = ("reasons", "unmet", "cautions")  # the assessment's lists, each an extension of that name
Row = Mapping[str, Any]  # one request: the CSV export's columns (app/exports/rows.py) plus ``screened_at``


def _coding(base_url: str, name: str, code: str, display: str) -> dict[str, str]:
    return {"system": code_system(base_url, name), "code": code, "display": display}


def patient(row: Row, base_url: str) -> Resource:
    """The contact details as a ``Patient``."""
    reference, preferred = row["reference"], row["preferred_contact"]
    telecom = [{"system": "phone", "value": row["phone"], "rank": 1 if preferred == "phone" else 2}]
    if preferred == "text":
        telecom.append({"system": "sms", "value": row["phone"], "rank": 1})
    if row["email"]:
        telecom.append({"system": "email", "value": row["email"], "rank": 1 if preferred == "email" else 2})
    language: dict[str, Any] = {"text": row["other_language"] if row["other_language"] else
                                str(contact.label("preferred_language", row["preferred_language"]))}
    if row["preferred_language"] in ("en", "es"):
        language["coding"] = [{"system": "urn:ietf:bcp:47", "code": row["preferred_language"]}]
    resource: Resource = {
        "resourceType": "Patient",
        "id": resource_id("Patient", reference),
        "extension": [
            {"url": extension_url(base_url, name.replace("_", "-")),
             "valueCoding": _coding(base_url, name, row[name], str(contact.label(name, row[name])))}
            for name in ("best_time", "insurance")
        ],
        "name": [{"use": "official", "family": row["last_name"], "given": [row["first_name"]]}],
        "telecom": telecom,
        "birthDate": row["date_of_birth"].isoformat(),
        "communication": [{"language": language, "preferred": True}],
    }
    if row["proxy_name"]:  # someone the patient said may answer for them
        resource["contact"] = [{"relationship": [{"text": row["proxy_relationship"]}],
                                "name": {"text": row["proxy_name"]}}]
    return resource


def risk_assessment(row: Row, base_url: str) -> Resource:
    """The stored assessment as a ``RiskAssessment`` based on the response.

    Category, scores and rule set come from their own columns; the rule ids from the stored assessment.
    """
    reference, data = row["reference"], row["assessment"] or {}
    rules = [
        {"url": extension_url(base_url, kind), "valueCoding": _coding(
            base_url, "rules", rule_id, RULE_TEXTS[rule_id].staff if rule_id in RULE_TEXTS else rule_id)}
        for kind in RULE_KINDS for rule_id in data.get(kind) or ()
    ]
    return {
        "resourceType": "RiskAssessment",
        "id": resource_id("RiskAssessment", reference),
        "extension": [
            {"url": extension_url(base_url, "fit-score"), "valueInteger": int(row["score"])},
            {"url": extension_url(base_url, "cook-score"), "valueInteger": int(row["cook_score"])},
            *rules,
        ],
        "status": "final",
        "method": {"coding": [_coding(base_url, "rule-set", row["rule_version"],
                                      f"MILD self-screen rule set {row['rule_version']}")]},
        "code": {"text": "Fit with the pattern MILD (minimally invasive lumbar decompression) treats"},
        "subject": {"reference": full_url("Patient", reference)},
        "occurrenceDateTime": row["screened_at"].isoformat(timespec="seconds"),
        "basis": [{"reference": full_url("QuestionnaireResponse", reference)}],
        "prediction": [{
            "outcome": {"text": "Answers fit the pattern MILD treats (a screening, not a diagnosis)"},
            "qualitativeRisk": {"coding": [_coding(base_url, "category", row["category"],
                                                   CATEGORY_LABELS.get(row["category"], row["category"]))]},
        }],
    }


def assessment_from_risk_assessment(resource: Mapping[str, Any], base_url: str) -> Assessment:
    """The assessment a ``RiskAssessment`` made by ``risk_assessment`` holds."""
    by_url: dict[str, list[Any]] = {}
    for extension in resource.get("extension") or []:
        value = extension.get("valueInteger", (extension.get("valueCoding") or {}).get("code"))
        by_url.setdefault(extension["url"], []).append(value)
    return Assessment.from_dict({
        "category": resource["prediction"][0]["qualitativeRisk"]["coding"][0]["code"],
        "score": by_url[extension_url(base_url, "fit-score")][0],
        "cook_score": by_url[extension_url(base_url, "cook-score")][0],
        "rule_version": resource["method"]["coding"][0]["code"],
        **{kind: by_url.get(extension_url(base_url, kind), []) for kind in RULE_KINDS},
    })


def service_request(row: Row, base_url: str) -> Resource:
    """The consultation request: reference, where it stands, when it was sent, and the patient's message."""
    reference = row["reference"]
    status = [{"url": extension_url(base_url, "request-status"),
               "valueCoding": _coding(base_url, "request-status", row["status"],
                                      STATUS_LABELS.get(row["status"], row["status"]))}]
    if row["outcome"]:
        status.append({"url": extension_url(base_url, "request-outcome"),
                       "valueCoding": _coding(base_url, "request-outcome", row["outcome"],
                                              OUTCOME_LABELS.get(row["outcome"], row["outcome"]))})
    resource: Resource = {
        "resourceType": "ServiceRequest",
        "id": resource_id("ServiceRequest", reference),
        "extension": status,
        "identifier": [{"system": code_system(base_url, "request-reference"), "value": reference}],
        "status": "completed" if row["status"] == "closed" else "active",
        "intent": "proposal",  # the patient asks; the clinic decides
        "priority": "urgent" if row["category"] == "emergency" else "routine",
        "code": {"text": "Consultation about minimally invasive lumbar decompression (MILD)"},
        "subject": {"reference": full_url("Patient", reference)},
        "authoredOn": row["created_at"].isoformat(timespec="seconds"),
        "supportingInfo": [{"reference": full_url("QuestionnaireResponse", reference)},
                           {"reference": full_url("RiskAssessment", reference)}],
    }
    if row["message"]:
        resource["note"] = [{"text": row["message"]}]
    return resource


def document_reference(document: Document, reference: str, url: str | None = None) -> Resource:
    """A document the patient sent, with the file itself as the attachment (base64); with ``url`` instead, the
    address staff open it at (the queue's Bundle: a million requests' scans would not fit in one file)."""
    content: dict[str, Any] = {"contentType": document.content_type}
    if url is None:
        content["data"] = base64.b64encode(document.data).decode("ascii")
    else:
        content["url"] = url
    return {
        "resourceType": "DocumentReference",
        "id": resource_id("DocumentReference", f"{reference}/{document.id}"),
        "status": "current",
        "type": {"text": kind_label(document.kind)},
        "subject": {"reference": full_url("Patient", reference)},
        "date": document.created_at.isoformat(timespec="seconds"),
        "description": "Sent by the patient with their consultation request",
        "content": [{"attachment": {
            **content,
            "size": document.size,
            "title": document.filename,
            "creation": document.created_at.isoformat(timespec="seconds"),
        }}],
        "context": {"related": [{"reference": full_url("ServiceRequest", reference)}]},
    }


def request_entries(row: Row, base_url: str, documents: Sequence[Document] = (),
                    document_url: Callable[[str, int], str] | None = None) -> list[dict[str, Any]]:
    """The Bundle entries of one request (with its ``documents``), each with its ``urn:uuid`` full URL.

    ``document_url(reference, document id)``: link each document instead of carrying it.
    """
    response = questionnaire_response(row["answers"] or {}, reference=row["reference"],
                                      authored=row["screened_at"], base_url=base_url)
    resources = (patient(row, base_url), response, risk_assessment(row, base_url), service_request(row, base_url))
    entries = [{"fullUrl": full_url(r["resourceType"], row["reference"]), "resource": r} for r in resources]
    for document in documents:
        entries.append({"fullUrl": full_url("DocumentReference", f"{row['reference']}/{document.id}"),
                        "resource": document_reference(document, row["reference"], document_url(
                            row["reference"], document.id) if document_url else None)})
    return entries


def bundle(rows: Iterable[Row], base_url: str, now: datetime, documents: Sequence[Document] = ()) -> Resource:
    """A ``collection`` Bundle of every request in ``rows`` (the streamed export writes the same shape).

    ``documents`` (the single-request download) are added as DocumentReference entries of their request.
    """
    entries = []
    for row in rows:
        entries += request_entries(row, base_url, [d for d in documents if d.request_id == row["id"]])
    return {**bundle_header(now), "entry": entries}


def bundle_header(now: datetime) -> Resource:
    """Everything of a Bundle but its entries."""
    return {"resourceType": "Bundle", "type": "collection", "timestamp": now.isoformat(timespec="seconds")}
