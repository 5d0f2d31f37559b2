"""The codebook of the questionnaire: a page and a CSV, for any signed-in role. It holds no patient data."""

from __future__ import annotations

from flask import Response as FlaskResponse
from flask import render_template

from app.exports.codebook import ALWAYS, codebook_by_step, codebook_csv
from app.exports.fhir import VERSION
from app.screening import RULE_VERSION
from app.staff import bp
from app.staff.access import READ_REQUESTS, roles_required


@bp.get("/codebook")
@roles_required(*READ_REQUESTS)
def codebook() -> str:
    """Every field with its step, question, type, codes, labels and when it applies."""
    return render_template("staff/codebook.html", steps=codebook_by_step(), always=ALWAYS,
                           rule_version=RULE_VERSION, form_version=VERSION)


@bp.get("/codebook.csv")
@roles_required(*READ_REQUESTS)
def codebook_download() -> FlaskResponse:
    """The codebook as CSV, one row per code."""
    return FlaskResponse("".join(codebook_csv()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="mild-codebook-{VERSION}.csv"'})
