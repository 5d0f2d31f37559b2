"""FHIR downloads: one request, or the filtered queue, as a Bundle. Audited exactly like the CSV export."""

from __future__ import annotations

import json

from flask import Response as FlaskResponse
from flask import current_app, stream_with_context, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.casework.audit import record
from app.casework.queue import QueueFilters, build_query
from app.exports.fhir import FHIR_JSON
from app.exports.fhir_bundle import bundle
from app.exports.fhir_export import bundle_filename, request_row, stream_bundle
from app.exports.rows import audit_detail
from app.extensions import db
from app.intake.documents import documents_of
from app.models import utcnow
from app.staff import bp
from app.staff.access import EXPORT, client_ip, from_this_site, roles_required
from app.staff.export_routes import export_filters
from app.staff.request_routes import load


def _download(body: object, filename: str) -> FlaskResponse:
    return FlaskResponse(body, mimetype=FHIR_JSON, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",  # patient data: never kept by the browser or a proxy
        "X-Content-Type-Options": "nosniff",
    })


@bp.get("/requests.fhir.json")
@roles_required(*EXPORT)
@from_this_site
def export_fhir() -> Response:
    """Every request matching the queue's filters as one FHIR Bundle, streamed; audited before the first byte."""
    filters = export_filters()
    if not isinstance(filters, QueueFilters):
        return filters
    clinic = current_app.extensions["clinic"]
    now = utcnow()
    query = build_query(filters, staff_id=current_user.id, tz=clinic.timezone, region=clinic.phone_region,
                        now=now, overdue_before=clinic.overdue_cutoff(now))
    record(db.session, "export", now=now, staff_id=current_user.id, ip=client_ip(),
           detail={**audit_detail(filters), "format": "fhir"})
    db.session.commit()  # before streaming: an abandoned or failed download is still on record
    base = current_app.config["PUBLIC_BASE_URL"]

    def document_url(reference: str, document_id: int) -> str:
        return base.rstrip("/") + url_for("staff.request_document", reference=reference, document_id=document_id)

    body = stream_with_context(stream_bundle(db.session, query, base, now, document_url))
    return _download(body, bundle_filename(now, clinic.timezone))


@bp.get("/requests/<reference>/fhir.json")
@roles_required(*EXPORT)
@from_this_site
def request_fhir(reference: str) -> Response:
    """One request as a FHIR Bundle (Patient, QuestionnaireResponse, RiskAssessment, ServiceRequest)."""
    req = load(reference)
    now = utcnow()
    record(db.session, "export", now=now, staff_id=current_user.id, ip=client_ip(),
           target_type="consultation_request", target_id=req.id, detail={"format": "fhir"})
    db.session.commit()
    resource = bundle([request_row(db.session, req.id)], current_app.config["PUBLIC_BASE_URL"], now,
                      documents=documents_of(db.session, req.id, with_data=True))
    clinic = current_app.extensions["clinic"]
    return _download(json.dumps(resource, ensure_ascii=False, indent=2),
                     bundle_filename(now, clinic.timezone, req.reference))
