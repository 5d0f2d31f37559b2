"""Emails to patients through a real SMTP server: the acknowledgement, and the visit confirmation with its
iCalendar invitation; the morning digest of overdue requests; messages go with a purged request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from email.message import EmailMessage

from flask import Flask
from icalendar import Calendar
from sqlalchemy import func, select

from app.casework.retention import RetentionPolicy, purge
from app.extensions import db
from app.messaging.digest import queue_overdue_digest
from app.models import ConsultationRequest, InboundText, OutboxMessage, utcnow
from tests.factories import login, make_staff, patient_request, seed_request
from tests.test_notify import INTAKE, Inbox, deliver, mail_app, smtp_server  # noqa: F401 - fixtures used below
from tests.test_request_work import post_work

PATIENT_EMAIL = "dorothea.q@example.org"


def patient_email(inbox: Inbox) -> list[EmailMessage]:
    return [m for m, to in zip(inbox.messages, inbox.recipients, strict=True) if to == [PATIENT_EMAIL]]


def test_the_patient_gets_an_acknowledgement_and_a_calendar_invitation_for_the_visit(
        mail_app: Flask, smtp_server: Inbox) -> None:  # noqa: F811 - the fixtures imported above
    reference = patient_request(mail_app, first_name="Dorothea", last_name="Quimby", email=PATIENT_EMAIL,
                                preferred_contact="email", preferred_language="en")
    deliver(mail_app)
    [acknowledgement] = patient_email(smtp_server)
    assert acknowledgement["Subject"] == f"Demo Spine & Pain Clinic: we got your request {reference}"
    text = acknowledgement.get_content()
    assert "We will call you from (415) 555-0134 within 2 working days" in text
    assert "Dorothea" not in text and "Quimby" not in text

    staff = mail_app.test_client()
    login(staff, make_staff(mail_app, "frontdesk"))
    tz = mail_app.extensions["clinic"].timezone
    visit = datetime.combine(utcnow().astimezone(tz).date() + timedelta(days=6), time(14, 15), tzinfo=tz)
    assert post_work(staff, reference, "status", status="in_progress").status_code == 303
    assert post_work(staff, reference, "status", status="scheduled", appointment_date=visit.date().isoformat(),
                     appointment_time="14:15").status_code == 303
    deliver(mail_app)
    confirmation = patient_email(smtp_server)[1]
    # A long subject is folded onto its own header line; readers drop the fold's leading space.
    assert str(confirmation["Subject"]).strip() == "Demo Spine & Pain Clinic: your visit on " + visit.strftime(
        "%A, %B %-d at 2:15 PM")
    body = confirmation.get_body(preferencelist=("plain",))
    assert body is not None and "2:15 PM" in body.get_content() and "100 Example Street" in body.get_content()
    [invitation] = [part for part in confirmation.iter_attachments() if part.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(invitation.get_content())
    assert calendar["method"] == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == visit and event.decoded("dtend") == visit + timedelta(minutes=45)
    assert str(event["location"]).startswith("100 Example Street") and f"visit-{reference}" in str(event["uid"])
    assert "Quimby" not in invitation.get_content()
    assert calendar.walk("VTIMEZONE")  # the clinic's zone travels with the invitation


def test_the_overdue_digest_goes_once_a_working_day_with_counts_and_references_only(
        mail_app: Flask) -> None:  # noqa: F811 - the fixture imported above
    tz = mail_app.extensions["clinic"].timezone
    monday = datetime(2026, 12, 7, 7, 45, tzinfo=tz)  # 07:45 on a Monday, after the 07:30 digest time
    old = [seed_request(mail_app, created_at=monday - timedelta(days=5), last_name="Overdueson") for _ in range(3)]
    seed_request(mail_app, created_at=monday - timedelta(hours=1))  # inside the promise: not listed
    with mail_app.app_context():
        early = queue_overdue_digest(db.session, mail_app.extensions["clinic"], intake_address=INTAKE,
                                     call_list_url="https://x/staff/requests", at=time(7, 30),
                                     now=monday - timedelta(minutes=30))
        digest = queue_overdue_digest(db.session, mail_app.extensions["clinic"], intake_address=INTAKE,
                                      call_list_url="https://x/staff/requests", at=time(7, 30), now=monday)
        again = queue_overdue_digest(db.session, mail_app.extensions["clinic"], intake_address=INTAKE,
                                     call_list_url="https://x/staff/requests", at=time(7, 30),
                                     now=monday + timedelta(hours=3))
        sunday = queue_overdue_digest(db.session, mail_app.extensions["clinic"], intake_address=INTAKE,
                                      call_list_url="https://x/staff/requests", at=time(7, 30),
                                      now=monday - timedelta(days=1))
        db.session.commit()
        assert early is None and again is None and sunday is None and digest is not None
        assert digest.subject == "MILD requests overdue this morning: 3"
        assert all(reference in digest.body for reference in old) and "Overdueson" not in digest.body


def test_a_purged_request_takes_its_messages_with_it(make_app: Callable[..., Flask]) -> None:
    from tests.fake_twilio import fake_twilio, patient_text, texting_config

    with fake_twilio() as twilio:
        app = make_app(**texting_config(twilio))
        reference = patient_request(app, phone="(415) 555-0142", preferred_contact="text", consent_text="y")
        patient_text(app.test_client(), "http://127.0.0.1:5000", "+14155550142", "thanks")
    with app.app_context():
        request = db.session.scalars(select(ConsultationRequest)
                                     .where(ConsultationRequest.reference == reference)).one()
        request.status, request.is_open = "closed", False
        db.session.commit()
        counts = purge(db.session, utcnow() + timedelta(days=4000), RetentionPolicy.from_days(
            draft_idle=timedelta(days=1), screening_days=1, request_days=1))
        db.session.commit()
        assert counts.requests == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert db.session.scalar(select(func.count()).select_from(InboundText)) == 0
