"""Prepared sessions for the load scenarios: patients at a given step, and a signed-in member of staff.

A POST scenario needs one patient per request (a send stores a request only once per screening; a repeat
is answered cheaply with the stored reference). Walking thousands of patients over HTTP first would take
longer than the measurement, so the drafts are made here with the app's own code (``start_draft``,
``save_answers``, ``complete_screening``, ``save_contact``), and each cookie and CSRF token with the app's
own session serializer and Flask-WTF, exactly what the server would have set. The server and this process
share the development ``SECRET_KEY`` and keys (or whatever the environment sets for both).
"""

from __future__ import annotations

import urllib.parse
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask, session
from flask_wtf.csrf import generate_csrf

from app.extensions import db
from app.intake.drafts import save_answers, save_contact, start_draft
from app.intake.workflow import complete_screening
from app.models import utcnow
from app.public.drafts import SESSION_KEY
from app.security.accounts import create_staff
from bench.patient_client import ANSWERS, CSRF_PATTERN, PatientClient, page_form

STAFF_EMAIL = "bench@clinic.example"
STAFF_PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway account in a throwaway database
STEP_PAGE = "symptoms"  # the second page: its GET looks up a draft that has the first page's answers
BATCH = 500


def contact_details(number: int) -> dict[str, Any]:
    """What ``ContactForm.contact_data()`` keeps in the draft for a patient who typed valid details."""
    return {
        "first_name": "Load", "last_name": f"Patient{number}", "date_of_birth": date(1954, 4, 3).isoformat(),
        "phone": f"(415) 555-01{number % 100:02d}", "email": "", "preferred_contact": "phone",
        "best_time": "morning", "preferred_language": "en", "insurance": "medicare",
        "message": "Please call after 10.", "consent_contact": True, "voicemail": "yes",
    }


def _cookie(app: Flask, token: str) -> tuple[str, str]:
    """The patient cookie holding draft ``token`` and a CSRF secret, and the form's CSRF token for it."""
    with app.test_request_context("/"):
        session[SESSION_KEY] = token
        csrf = generate_csrf()
        value = app.session_interface.get_signing_serializer(app).dumps(dict(session))  # type: ignore[attr-defined]
    return f"{app.config['SESSION_COOKIE_NAME']}={value}", csrf


def patient_requests(app: Flask, count: int, stage: str, out: Path) -> Path:
    """Write ``count`` prepared requests ("cookie<TAB>body" lines) for load.lua; ``stage`` is step or send.

    step: a draft with the safety page answered; the body is the symptoms page's form.
    send: a draft with every answer, its screening stored and the contact details typed; the body is
    the "check your details" page's send button (with the empty honeypot field).
    """
    safety = {name: ANSWERS[name] for name in page_form("safety")}
    tokens = []
    with app.app_context():
        for number in range(count):
            now = utcnow()
            token, draft = start_draft(db.session, now)
            save_answers(draft, safety if stage == "step" else ANSWERS, now)
            if stage == "send":
                complete_screening(db.session, draft, now)
                save_contact(draft, contact_details(number), now)
            tokens.append(token)
            if len(tokens) % BATCH == 0:
                db.session.commit()
        db.session.commit()
    lines = []
    form = page_form(STEP_PAGE) if stage == "step" else {"ref_code": ""}
    for token in tokens:  # each in a request context of its own (Flask-WTF caches a token per context)
        cookie, csrf = _cookie(app, token)
        lines.append(f"{cookie}\t{urllib.parse.urlencode({'csrf_token': csrf, **form}, doseq=True)}")
    out.write_text("\n".join(lines) + "\n")
    return out


def ensure_staff(app: Flask) -> int:
    """The bench's front-desk account (created once); its id."""
    from app.security.accounts import find_by_email

    with app.app_context():
        user = find_by_email(db.session, STAFF_EMAIL)
        if user is None:
            user = create_staff(db.session, STAFF_EMAIL, "Bench Frontdesk", "frontdesk", STAFF_PASSWORD, utcnow())
            db.session.commit()
        return user.id


def staff_sign_in(url: str) -> PatientClient:
    """A client signed in to the console over HTTP, as a person would (its cookies are the staff session)."""
    client = PatientClient(url)
    page = client.request("GET", "/staff/login")
    token = CSRF_PATTERN.search(page.body)
    if token is None:
        raise RuntimeError("no CSRF token on the sign-in page")
    answer = client.request("POST", "/staff/login", {"csrf_token": token.group(1), "email": STAFF_EMAIL,
                                                      "password": STAFF_PASSWORD})
    if answer.status != 303 and answer.status != 302:
        raise RuntimeError(f"staff sign-in failed: {answer.status}")
    return client


def staff_search(client: PatientClient, text: str) -> str:
    """Search the queue as the console does (a POST); return the queue URL it redirects to (``search=<id>``)."""
    page = client.request("GET", "/staff/requests")
    token = CSRF_PATTERN.search(page.body)
    if token is None:
        raise RuntimeError("no CSRF token on the queue page")
    answer = client.request("POST", "/staff/requests", {"csrf_token": token.group(1), "q": text, "status": "open"})
    if not answer.location:
        raise RuntimeError(f"the search did not redirect: {answer.status}")
    return answer.location


def cookie_header(client: PatientClient) -> str:
    """The client's cookies as one Cookie header value."""
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())
