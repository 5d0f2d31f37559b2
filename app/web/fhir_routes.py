"""The public FHIR endpoint: the questionnaire definition. It holds no patient data, so it needs no sign-in."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app

from app.exports.fhir import FHIR_JSON, QUESTIONNAIRE_ID, questionnaire

bp = Blueprint("fhir", __name__, url_prefix="/fhir")


@bp.get(f"/Questionnaire/{QUESTIONNAIRE_ID}")
def questionnaire_definition() -> Response:
    """The questionnaire as a FHIR R4 ``Questionnaire`` (``application/fhir+json``)."""
    resource = questionnaire(current_app.config["PUBLIC_BASE_URL"], current_app.extensions["clinic"].name)
    response = Response(json.dumps(resource, ensure_ascii=False, indent=2), mimetype=FHIR_JSON)
    # Public and the same for everyone until the next release; the security headers are added app-wide.
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
