"""Messages to patients (issue 24): acknowledgement, visit confirmation and reminders, replies, STOP, webhooks.

Texts go through the app's real adapter (the official ``twilio`` library) to a local server speaking Twilio's
API (tests/fake_twilio.py); webhooks arrive signed as Twilio signs them. The clock is moved by delivering
"at" a later time: the same ``deliver_due`` the worker runs, with the time given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.casework.notify import DeliveryReport, deliver_due
from app.extensions import db
from app.models import ConsultationRequest, InboundText, OutboxMessage, TextOptOut, utcnow
from app.web.mailer import build_sender
from app.web.messenger import build_text_provider
from tests.answers import answers_with
from tests.factories import login, make_staff, patient_request
from tests.fake_twilio import AUTH_TOKEN, FakeTwilio, fake_twilio, patient_text, signed_webhook, texting_config
from tests.journey import CONTACT, csrf_token, error_messages, see_result
from tests.test_request_work import post_work, stored

PUBLIC = "http://127.0.0.1:5000"  # TestingConfig's PUBLIC_BASE_URL: what webhooks are signed over
PATIENT = "+14155550142"
NAMES = ("Dorothea", "Quimby")


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as server:
        yield server


@pytest.fixture
def text_app(make_app: Callable[..., Flask], twilio: FakeTwilio) -> Flask:
    return make_app(**texting_config(twilio))


def deliver_at(app: Flask, when: datetime) -> DeliveryReport:
    """Deliver what is due at ``when`` with the configured email sender and text provider."""
    with app.app_context():
        return deliver_due(db.session, build_sender(app.config), when, texts=build_text_provider(app.config))


def texting_patient(app: Flask, **contact: str) -> str:
    return patient_request(app, **{"first_name": NAMES[0], "last_name": NAMES[1], "phone": "(415) 555-0142",
                                   "preferred_contact": "text", "consent_text": "y", "preferred_language": "en",
                                   **contact})


def frontdesk(app: Flask) -> FlaskClient:
    client = app.test_client()
    login(client, make_staff(app, "frontdesk"))
    return client


def book(app: Flask, staff: FlaskClient, reference: str, visit: datetime) -> None:
    """Front desk: in progress, then scheduled for ``visit`` (clinic time)."""
    assert post_work(staff, reference, "status", status="in_progress").status_code == 303
    response = post_work(staff, reference, "status", status="scheduled", appointment_date=visit.date().isoformat(),
                         appointment_time=visit.strftime("%H:%M"))
    assert response.status_code == 303, response.text


def visit_in_days(app: Flask, days: int) -> datetime:
    tz = app.extensions["clinic"].timezone
    return datetime.combine(utcnow().astimezone(tz).date() + timedelta(days=days), time(10, 30), tzinfo=tz)


def no_patient_details(text: str) -> bool:
    return not any(name.lower() in text.lower() for name in NAMES) and "1954" not in text


def test_from_send_to_reminders_a_confirming_reply_and_stop(text_app: Flask, twilio: FakeTwilio) -> None:
    reference = texting_patient(text_app)
    deliver_at(text_app, utcnow())
    [acknowledgement] = twilio.bodies_to(PATIENT)
    assert reference in acknowledgement and "(415) 555-0134" in acknowledgement and "2 working days" in acknowledgement
    assert no_patient_details(acknowledgement) and twilio.sent[0].sender == "+14155550100"

    staff = frontdesk(text_app)
    visit = visit_in_days(text_app, 5)
    book(text_app, staff, reference, visit)
    deliver_at(text_app, utcnow())
    confirmation = twilio.bodies_to(PATIENT)[1]
    assert visit.strftime("%B") in confirmation and "10:30 AM" in confirmation and "100 Example Street" in confirmation
    assert "Reply C to confirm" in confirmation and no_patient_details(confirmation)

    assert deliver_at(text_app, visit - timedelta(days=2, minutes=1)).sent == 0  # the first reminder is not due yet
    assert deliver_at(text_app, visit - timedelta(days=2) + timedelta(minutes=1)).sent == 1
    reminder = twilio.bodies_to(PATIENT)[2]
    assert reminder.startswith("Demo Spine & Pain Clinic reminder") and no_patient_details(reminder)

    assert patient_text(staff, PUBLIC, PATIENT, " c ").status_code == 200
    assert stored(text_app, reference).visit_reply == "confirmed"
    page = staff.get(f"/staff/requests/{reference}").text
    assert "Confirmed by the patient" in page and "confirmed the visit" in page
    deliver_at(text_app, visit - timedelta(days=2) + timedelta(minutes=2))
    assert "is confirmed" in twilio.bodies_to(PATIENT)[3]

    assert patient_text(staff, PUBLIC, PATIENT, "STOP").status_code == 200
    assert deliver_at(text_app, visit - timedelta(hours=2) + timedelta(minutes=1)).sent == 0
    assert len(twilio.bodies_to(PATIENT)) == 4  # the two-hour reminder was not sent
    with text_app.app_context():
        last = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                                  .order_by(OutboxMessage.id.desc())).first()
        assert last is not None and last.cancelled_at is not None and last.sent_at is None
    assert "the patient replied STOP" in staff.get(f"/staff/requests/{reference}").text


def test_a_patient_who_speaks_spanish_is_written_to_in_spanish(text_app: Flask, twilio: FakeTwilio) -> None:
    reference = texting_patient(text_app, preferred_language="es")
    deliver_at(text_app, utcnow())
    assert twilio.bodies_to(PATIENT) == [
        f"Demo Spine & Pain Clinic: recibimos su solicitud, referencia {reference}. Le llamaremos desde el "
        "(415) 555-0134 en 2 días hábiles o menos. Responda STOP para no recibir más mensajes."]


def test_a_webhook_with_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(text_app: Flask) -> None:
    texting_patient(text_app)
    client = text_app.test_client()
    form = {"MessageSid": "SM" + "1" * 32, "From": PATIENT, "To": "+14155550100", "Body": "STOP"}
    assert signed_webhook(client, PUBLIC, "/webhooks/text/inbound", form, token="0" * 32).status_code == 403
    assert client.post("/webhooks/text/inbound", data=form).status_code == 403
    # Signed over another URL (a forged Host, or another site): refused too.
    assert signed_webhook(client, "http://evil.example", "/webhooks/text/inbound", form).status_code == 403
    assert signed_webhook(client, PUBLIC, "/webhooks/text/status",
                          {"MessageSid": "SM1", "MessageStatus": "delivered"}, token="0" * 32).status_code == 403
    with text_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(InboundText)) == 0
        assert db.session.scalar(select(func.count()).select_from(TextOptOut)) == 0
    assert signed_webhook(client, PUBLIC, "/webhooks/text/inbound", form).status_code == 200


def test_webhooks_are_not_there_while_texting_is_off(app: Flask) -> None:
    form = {"MessageSid": "SM" + "1" * 32, "From": PATIENT, "Body": "hi"}
    assert signed_webhook(app.test_client(), PUBLIC, "/webhooks/text/inbound", form).status_code == 404


def test_a_provider_retry_of_the_same_text_is_stored_once(text_app: Flask) -> None:
    reference = texting_patient(text_app)
    client = text_app.test_client()
    form = {"MessageSid": "SM" + "2" * 32, "From": PATIENT, "To": "+14155550100", "Body": "Is Tuesday ok?"}
    for _ in range(2):
        assert signed_webhook(client, PUBLIC, "/webhooks/text/inbound", form).status_code == 200
    with text_app.app_context():
        [text] = db.session.scalars(select(InboundText)).all()
        assert text.body == "Is Tuesday ok?" and text.read_at is None
        request_id = db.session.scalar(select(ConsultationRequest.id).where(ConsultationRequest.reference == reference))
        assert text.request_id == request_id


def test_help_is_answered_even_after_stop_and_start_turns_texts_back_on(text_app: Flask, twilio: FakeTwilio) -> None:
    reference = texting_patient(text_app)
    deliver_at(text_app, utcnow())
    client = text_app.test_client()
    patient_text(client, PUBLIC, PATIENT, "Stop")
    patient_text(client, PUBLIC, PATIENT, "help")
    deliver_at(text_app, utcnow())
    assert "For help, call (415) 555-0134" in twilio.bodies_to(PATIENT)[-1]
    staff = frontdesk(text_app)
    page = staff.get(f"/staff/requests/{reference}").text
    assert "did not allow texts (or replied STOP)" in page  # nothing to send while stopped
    patient_text(client, PUBLIC, PATIENT, "START")
    deliver_at(text_app, utcnow())
    assert "you will get texts from us again" in twilio.bodies_to(PATIENT)[-1]
    response = post_work(staff, reference, "message", message="tried")
    assert response.status_code == 303
    deliver_at(text_app, utcnow())
    assert "tried to call you about your request " + reference in twilio.bodies_to(PATIENT)[-1]


def test_the_contact_form_asks_for_permission_to_text_separately(text_app: Flask, app: Flask) -> None:
    patient = text_app.test_client()
    see_result(patient, answers_with())
    form_page = patient.get("/request").text
    assert 'name="consent_text"' in form_page and 'name="consent_text" type="checkbox" value="y">' in form_page
    token = csrf_token(form_page)
    response = patient.post("/request", data={"csrf_token": token, **CONTACT, "preferred_contact": "text"})
    assert response.status_code == 200
    assert error_messages(response.text)["consent_text"] == ("Tick the box to let the clinic text you, or choose "
                                                            "another way for us to contact you")
    assert 'value="(415) 555-0134"' in response.text or CONTACT["phone"] in response.text  # nothing typed is lost
    # Texting off: the box is not there, and choosing texts needs no such permission.
    other = app.test_client()
    see_result(other, answers_with())
    assert 'name="consent_text"' not in other.get("/request").text


def test_no_acknowledgement_for_phone_call_and_none_by_text_without_permission(text_app: Flask,
                                                                                twilio: FakeTwilio) -> None:
    patient_request(text_app, preferred_contact="phone", consent_text="y")
    deliver_at(text_app, utcnow())
    assert twilio.sent == []
    with text_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.request_id.is_not(None))) == 0


def test_moving_the_visit_cancels_the_old_reminders_and_books_new_ones(text_app: Flask, twilio: FakeTwilio) -> None:
    reference = texting_patient(text_app)
    staff = frontdesk(text_app)
    first = visit_in_days(text_app, 5)
    book(text_app, staff, reference, first)
    second = visit_in_days(text_app, 9)
    assert post_work(staff, reference, "status", status="in_progress").status_code == 303
    assert post_work(staff, reference, "status", status="scheduled", appointment_date=second.date().isoformat(),
                     appointment_time="10:30").status_code == 303
    deliver_at(text_app, second + timedelta(minutes=-1))  # every reminder of both visits is due by now
    bodies = twilio.bodies_to(PATIENT)
    reminders = [b for b in bodies if "reminder" in b]
    assert len(reminders) == 2 and all(second.strftime("%B") in b and f" {second.day} " in b for b in reminders)
    assert sum("your visit is booked" in b for b in bodies) == 1  # the first confirmation was cancelled unsent


def test_a_staff_message_is_sent_once_on_a_double_click_and_a_long_one_is_refused(text_app: Flask,
                                                                                   twilio: FakeTwilio) -> None:
    reference = texting_patient(text_app)
    staff = frontdesk(text_app)
    page = staff.get(f"/staff/requests/{reference}").text
    assert "Never type health details" in page
    payload = {"csrf_token": csrf_token(page), "version": page.split('name="version" type="hidden" value="')[1]
               .split('"')[0], "message": "own", "text": "We have a cancellation tomorrow at 9. Call us back?"}
    first = staff.post(f"/staff/requests/{reference}/message", data=payload)
    second = staff.post(f"/staff/requests/{reference}/message", data=payload)
    assert (first.status_code, second.status_code) == (303, 409)
    too_long = post_work(staff, reference, "message", message="own", text="x" * 301)
    assert too_long.status_code == 400 and "300 characters or fewer" in too_long.text
    deliver_at(text_app, utcnow())
    own = [b for b in twilio.bodies_to(PATIENT) if "cancellation" in b]
    assert own == ["Demo Spine & Pain Clinic: We have a cancellation tomorrow at 9. Call us back?"]


def test_a_patient_text_shows_as_unread_until_the_request_is_opened(text_app: Flask) -> None:
    reference = texting_patient(text_app)
    staff = frontdesk(text_app)
    assert "unread" not in staff.get("/staff/requests").text
    patient_text(staff, PUBLIC, PATIENT, "Can my daughter come with me?")
    messages = staff.get("/staff/messages").text
    assert "1 unread" in messages and "Can my daughter come with me?" in messages and reference in messages
    page = staff.get(f"/staff/requests/{reference}").text
    assert "Can my daughter come with me?" in page and "texted the clinic" in page
    assert "unread" not in staff.get("/staff/requests").text
    patient_text(staff, PUBLIC, "+14155550199", "who is this")  # a number no request has
    assert "Unknown number" in staff.get("/staff/messages").text


def test_help_from_a_number_without_a_request_is_answered_with_the_clinic_s_number(text_app: Flask,
                                                                                   twilio: FakeTwilio) -> None:
    patient_text(text_app.test_client(), PUBLIC, "+14155550199", "HELP")
    deliver_at(text_app, utcnow())
    assert twilio.bodies_to("+14155550199") == [
        "Demo Spine & Pain Clinic: texts about your request to the clinic. For help, call (415) 555-0134. Reply "
        "STOP to stop texts. Message and data rates may apply."]


def test_the_provider_s_delivery_report_and_its_opt_out_error_are_kept(text_app: Flask, twilio: FakeTwilio) -> None:
    texting_patient(text_app)
    deliver_at(text_app, utcnow())
    sid = twilio.sent[0].sid
    assert twilio.sent[0].status_callback == PUBLIC + "/webhooks/text/status"
    client = text_app.test_client()
    assert signed_webhook(client, PUBLIC, "/webhooks/text/status",
                          {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "21610"}).status_code == 200
    with text_app.app_context():
        assert db.session.scalars(select(OutboxMessage.delivery_status)).one() == "undelivered"
        assert db.session.scalar(select(func.count()).select_from(TextOptOut)) == 1


def test_a_refused_text_keeps_the_error_code_not_the_number(text_app: Flask, twilio: FakeTwilio) -> None:
    twilio.refuse_to.add(PATIENT)
    texting_patient(text_app)
    report = deliver_at(text_app, utcnow())
    assert report.retrying == 1
    with text_app.app_context():
        error = db.session.scalars(select(OutboxMessage.last_error)).one()
    assert "error 21610" in error and "555" not in error


def test_an_emergency_is_texted_to_the_on_call_phone_without_patient_details(make_app: Callable[..., Flask],
                                                                            twilio: FakeTwilio) -> None:
    app = make_app(**texting_config(twilio, ONCALL_PHONE="+14155550177"))
    reference = patient_request(app, answers_with(red_flags=["bladder_bowel"]), first_name=NAMES[0],
                                last_name=NAMES[1])
    deliver_at(app, utcnow())
    [alert] = twilio.bodies_to("+14155550177")
    assert f"EMERGENCY request {reference}" in alert and no_patient_details(alert)


def test_the_outbox_page_shows_texts_without_their_numbers(text_app: Flask) -> None:
    texting_patient(text_app)
    admin = text_app.test_client()
    login(admin, make_staff(text_app, "admin"))
    page = admin.get("/staff/admin/outbox").text
    assert "Text: acknowledgement" in page and "555-0142" not in page and "5550142" not in page


def test_the_auth_token_is_not_in_any_page(text_app: Flask) -> None:
    admin = text_app.test_client()
    login(admin, make_staff(text_app, "admin"))
    assert AUTH_TOKEN not in admin.get("/staff/admin/system").text
