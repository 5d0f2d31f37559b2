"""Builders for staff accounts and stored consultation requests, through the app's own code paths."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import ConsultationRequest, Screening, utcnow
from app.security.accounts import create_staff
from tests.answers import answers_with
from tests.journey import CONTACT, csrf_token, see_result, send_request

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


def make_staff(app: Flask, role: str, *, name: str | None = None, email: str | None = None) -> dict[str, Any]:
    """Create an active account; return its id, email, password and role."""
    number = next(_numbers)
    email = email or f"{role}{number}@clinic.example"
    with app.app_context():
        user = create_staff(db.session, email, name or f"{role.title()} {number}", role, PASSWORD, utcnow())
        db.session.commit()
        return {"id": user.id, "email": user.email, "password": PASSWORD, "role": role, "name": user.name}


def login(client: FlaskClient, account: dict[str, Any]) -> None:
    """Sign in through the real login form."""
    token = csrf_token(client.get("/staff/login").text)
    response = client.post("/staff/login", data={"csrf_token": token, "email": account["email"],
                                                 "password": account["password"]})
    assert response.status_code == 303, response.text


def patient_request(app: Flask, answers: dict[str, Any] | None = None, **contact: str) -> str:
    """A patient submits a request through the public pages (own browser); return its reference."""
    patient = app.test_client()
    see_result(patient, answers or answers_with())
    response = send_request(patient, {**CONTACT, **contact})
    assert response.headers["Location"] == "/request/sent"
    with app.app_context():
        return db.session.scalars(
            select(ConsultationRequest.reference).order_by(ConsultationRequest.id.desc()).limit(1)
        ).one()


def staff_token(client: FlaskClient, path: str) -> str:
    """The CSRF token from a staff page."""
    return csrf_token(client.get(path).text)


CATEGORY_ANSWERS: dict[str, dict[str, Any]] = {
    "likely": answers_with(),
    "possible": answers_with(had_mri="no", mri_findings=None),
    "unlikely": answers_with(main_pain="back", leg_symptoms="none"),
    "emergency": answers_with(red_flags=["fever"]),
}


def new_screening(category: str = "likely", created_at: datetime | None = None) -> Screening:
    """A screening of ``category`` (assessed by the rules), not yet added to any session."""
    from app.screening import assess

    answers = CATEGORY_ANSWERS[category]
    assessment = assess(answers)
    return Screening(answers=answers, assessment=assessment.to_dict(), category=category, score=assessment.score,
                     cook_score=assessment.cook_score, rule_version=assessment.rule_version,
                     created_at=created_at or utcnow())


def seed_request(app: Flask, category: str = "likely", *, created_at: datetime | None = None,
                 last_name: str = "Smith", phone: str = "+14155550100", email: str | None = None,
                 first_name: str = "Pat", message: str | None = None) -> str:
    """Store a request directly through the domain functions (fast, for queue tests); return its reference."""
    from app.intake.contact import ContactDetails
    from app.intake.workflow import submit_request

    now = created_at or utcnow()
    with app.app_context():
        screening = new_screening(category, now)
        db.session.add(screening)
        db.session.flush()
        details = ContactDetails(first_name=first_name, last_name=last_name, date_of_birth=date(1954, 4, 3),
                                 phone=phone, email=email, preferred_contact="phone", best_time="any",
                                 preferred_language="en", insurance="medicare", message=message,
                                 consent_contact=True)
        request, _ = submit_request(db.session, screening, details, now)
        db.session.commit()
        return request.reference
