"""Results stored under rule set 2026.1, seen under the current rules: nothing rewritten, every change shown."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.intake.contact import ContactDetails
from app.intake.workflow import submit_request
from app.models import ConsultationRequest, Screening, utcnow
from tests.answers import answers_with
from tests.factories import login, make_staff

# Answers sent under 2026.1 (no thinner_hold_risk question then), with the assessment 2026.1 stored for them.
SPURS = answers_with(mri_findings=["stenosis", "bone_spurs"])  # U3 in 2026.1: unlikely; 2026.2: possible (K12)
ASPIRIN = answers_with(blood_thinners=["aspirin"])  # likely then; 2026.2 also asks thinner_hold_risk
SEATED = answers_with(pain_when_seated="yes")  # likely then; 2026.2 holds it at possible (K9)
BASE = answers_with()  # likely under both


def stored_2026_1(category: str, score: int, reasons: list[str], unmet: list[str], cautions: list[str]
                  ) -> dict[str, Any]:
    return {"category": category, "score": score, "cook_score": 5, "rule_version": "2026.1", "reasons": reasons,
            "unmet": unmet, "cautions": cautions}


ALL_C = ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]
OLD = {
    "spurs": (SPURS, stored_2026_1("unlikely", 75, ["U3", "C1", "C2", "C3", "C5", "C6", "C7"], ["C4"], [])),
    "aspirin": (ASPIRIN, stored_2026_1("likely", 100, ALL_C, [], ["K1"])),
    "seated": (SEATED, stored_2026_1("likely", 100, ALL_C, [], ["K9"])),
    "base": (BASE, stored_2026_1("likely", 100, ALL_C, [], [])),
}


def store_old(app: Flask, name: str, *, closed: bool = False) -> str:
    answers, assessment = OLD[name]
    with app.app_context():
        screening = Screening(answers=answers, assessment=assessment, category=assessment["category"],
                              score=assessment["score"], cook_score=5, rule_version="2026.1", created_at=utcnow())
        db.session.add(screening)
        db.session.flush()
        details = ContactDetails(first_name="Pat", last_name=name.title(), date_of_birth=date(1954, 4, 3),
                                 phone=f"+1415555{len(name):04d}", email=None, preferred_contact="phone",
                                 best_time="any", preferred_language="en", insurance="medicare", message=None,
                                 consent_contact=True)
        stored, _ = submit_request(db.session, screening, details, utcnow())
        if closed:
            request = db.session.get(ConsultationRequest, stored.id)
            assert request is not None
            request.is_open, request.status = False, "closed"
        db.session.commit()
        return stored.reference


def test_reassess_lists_the_open_requests_that_would_change_and_changes_nothing(app: Flask) -> None:
    references = {name: store_old(app, name) for name in OLD}
    store_old(app, "spurs", closed=True)  # closed: not listed
    with app.app_context():
        before = [(s.category, s.rule_version, s.assessment) for s in db.session.scalars(select(Screening))]
    result = app.test_cli_runner().invoke(args=["screening", "reassess", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rule_version"] == "2026.2"
    changed = {row["reference"]: row for row in report["changed"]}
    assert set(changed) == {references["spurs"], references["aspirin"], references["seated"]}
    assert (changed[references["spurs"]]["stored_category"], changed[references["spurs"]]["current_category"]) == (
        "unlikely", "possible")
    assert changed[references["seated"]]["current_category"] == "possible"
    aspirin = changed[references["aspirin"]]
    assert aspirin["current_category"] is None and "thinner_hold_risk" in aspirin["problem"]
    with app.app_context():
        after = [(s.category, s.rule_version, s.assessment) for s in db.session.scalars(select(Screening))]
    assert after == before  # nothing stored was rewritten

    text = app.test_cli_runner().invoke(args=["screening", "reassess"])
    assert text.exit_code == 0
    assert f"{references['spurs']}  2026.1  unlikely -> possible" in text.output
    assert "3 open request(s) would change category under rule set 2026.2; nothing was changed." in text.output


def test_the_request_page_shows_the_result_as_made_and_the_current_category_beside_it(app: Flask) -> None:
    spurs, aspirin, base = store_old(app, "spurs"), store_old(app, "aspirin"), store_old(app, "base")
    staff = app.test_client()
    login(staff, make_staff(app, "clinician"))
    page = staff.get(f"/staff/requests/{spurs}").text
    assert "(as assessed under rule set 2026.1)" in page
    assert "U3" in page  # the stored reason, still explained in its own words
    assert "Under the current rule set 2026.2" in page and "tag--possible" in page
    assert "Nothing stored was changed." in page

    page = staff.get(f"/staff/requests/{aspirin}").text
    assert "Rule set 2026.2 cannot assess these answers" in page and "thinner_hold_risk" in page

    page = staff.get(f"/staff/requests/{base}").text  # same category under both: nothing more to say
    assert "Under the current rule set" not in page and "cannot assess" not in page


def test_the_k6_caution_names_the_kind_of_surgery_for_staff(app: Flask) -> None:
    from tests.factories import patient_request

    reference = patient_request(app, answers_with(prior_back_surgery="yes", prior_surgery_type="fusion"))
    staff = app.test_client()
    login(staff, make_staff(app, "clinician"))
    page = staff.get(f"/staff/requests/{reference}").text
    assert "a fusion at the level matters most. Kind of surgery: Surgery to join bones with rods or screws." in page
