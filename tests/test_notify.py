"""Email notices of new requests: queued with the request, sent to a real SMTP server, retried, shown to admins."""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.casework.notify import (
    DeliveryReport,
    LogSender,
    SmtpSender,
    claim,
    deliver_due,
    queue_request_email,
    retry_delay,
)
from app.extensions import db
from app.models import ConsultationRequest, OutboxMessage, utcnow
from app.web.mailer import build_sender, deliver_pending
from tests.answers import answers_with
from tests.factories import login, make_staff, patient_request
from tests.journey import CONTACT, csrf_token, see_result, send_request

INTAKE = "intake@clinic.example"
PATIENT_EMAIL = "ana.garcia@example.org"
# Everything that identifies the patient in CONTACT (and the email given in these tests), in the forms
# it could take in an email: as typed, as stored (E.164), and the date of birth's year.
PATIENT_DETAILS = ["Ana", "García", "Garcia", "555-0199", "5550199", "1954", PATIENT_EMAIL,
                   CONTACT["message"]]
EMERGENCY = answers_with(red_flags=["saddle_numbness"])


# --- a real SMTP server on localhost ----------------------------------------------------------------

@dataclass
class Inbox:
    """What the test SMTP server received."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd hook: keep the message as the intake mailbox would see it."""
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A port nothing listens on (the OS picked it free; the socket is closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    """An aiosmtpd server on 127.0.0.1, stopped after the test."""
    inbox = Inbox("127.0.0.1", free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def mail_config(host: str, port: int, **extra: object) -> dict[str, object]:
    """Settings that send to ``host:port`` and notify the intake address."""
    return {"MAIL_SERVER": host, "MAIL_PORT": port, "MAIL_INTAKE_ADDRESS": INTAKE,
            "MAIL_FROM": "screen@clinic.example", "MAIL_TIMEOUT": 5,
            "PUBLIC_BASE_URL": "https://screen.clinic.example/", **extra}


@pytest.fixture
def mail_app(make_app: Callable[..., Flask], smtp_server: Inbox) -> Flask:
    """The app, sending to the test SMTP server; delivery is run explicitly by the tests."""
    return make_app(**mail_config(smtp_server.host, smtp_server.port))


def deliver(app: Flask) -> DeliveryReport:
    """Run what the background thread and ``flask outbox send`` run."""
    with app.app_context():
        return deliver_pending()


def outbox(app: Flask) -> list[OutboxMessage]:
    """Every outbox row, oldest first (detached, for reading)."""
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return rows


def join_delivery_threads() -> None:
    """Wait for background delivery started by a submission (the route names its thread)."""
    for thread in threading.enumerate():
        if thread.name == "outbox-delivery":
            thread.join(timeout=20)
            assert not thread.is_alive()


def text_of(message: EmailMessage) -> str:
    """Subject and body as the reader sees them (decoded)."""
    return f"{message['Subject']}\n{message.get_content()}"


# --- queuing with the request -----------------------------------------------------------------------

def test_a_new_request_queues_one_email_in_the_same_transaction(mail_app: Flask) -> None:
    committed: list[set[str]] = []  # the tables inserted into by each database COMMIT (savepoints are not commits)
    written: set[str] = set()

    def before_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        inserted = re.match(r"\s*INSERT INTO (\w+)", statement, re.IGNORECASE)
        if inserted:
            written.add(inserted.group(1))

    def on_commit(_: Any) -> None:
        committed.append(set(written))
        written.clear()

    with mail_app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "commit", on_commit)
    try:
        reference = patient_request(mail_app)
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)
        event.remove(engine, "commit", on_commit)

    [stored] = [names for names in committed if "consultation_request" in names]
    assert {"request_event", "outbox_message"} <= stored
    [message] = outbox(mail_app)
    assert message.recipient == INTAKE
    assert reference in message.subject
    assert message.sent_at is None and message.attempts == 0


def test_without_an_intake_address_no_email_is_queued(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAIL_INTAKE_ADDRESS="")
    patient_request(app)
    assert outbox(app) == []


def test_a_fault_while_queuing_does_not_cost_the_patient_their_request(
    mail_app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: str) -> str:
        raise RuntimeError("url map broken")

    monkeypatch.setattr("app.web.mailer.request_url", broken)
    reference = patient_request(mail_app)  # asserts the patient reached /request/sent
    with mail_app.app_context():
        assert db.session.scalar(select(ConsultationRequest).where(ConsultationRequest.reference == reference))
    assert outbox(mail_app) == []
    assert any(r.levelno == logging.ERROR and reference in r.getMessage() for r in caplog.records)


def test_a_database_fault_while_queuing_rolls_back_only_the_notice(
    mail_app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The notice's INSERT fails (a NOT NULL column); its savepoint goes, the request and its event commit."""
    monkeypatch.setattr("app.casework.notify.request_body", lambda *_args: None)
    reference = patient_request(mail_app)  # asserts the patient reached /request/sent
    with mail_app.app_context():
        stored = db.session.scalar(select(ConsultationRequest).where(ConsultationRequest.reference == reference))
        assert stored is not None and [event.kind for event in stored.events] == ["submitted"]
    assert outbox(mail_app) == []
    assert any(r.levelno == logging.ERROR and reference in r.getMessage() for r in caplog.records)


# --- what arrives at the intake mailbox -------------------------------------------------------------

def test_an_emergency_email_arrives_with_reference_and_link_and_no_patient_details(
    mail_app: Flask, smtp_server: Inbox
) -> None:
    reference = patient_request(mail_app, EMERGENCY, email=PATIENT_EMAIL)
    assert deliver(mail_app).sent == 1

    [message] = smtp_server.messages
    assert smtp_server.recipients == [[INTAKE]]
    assert message["To"] == INTAKE
    assert message["From"] == "screen@clinic.example"
    assert message["Subject"] == f"[EMERGENCY] New MILD consultation request {reference}"
    body = message.get_content()
    assert f"https://screen.clinic.example/staff/requests/{reference}" in body
    assert "Emergency" in body
    for detail in PATIENT_DETAILS:
        assert detail not in text_of(message), detail
    [row] = outbox(mail_app)
    assert row.sent_at is not None and row.attempts == 1 and row.last_error is None


ONCALL = "oncall@clinic.example"


def test_an_emergency_alerts_the_oncall_clinician_at_once_without_patient_details(
    make_app: Callable[..., Flask], smtp_server: Inbox
) -> None:
    app = make_app(**mail_config(smtp_server.host, smtp_server.port, ONCALL_EMAIL=ONCALL))
    reference = patient_request(app, EMERGENCY, email=PATIENT_EMAIL)
    assert deliver(app).sent == 2
    assert sorted(recipient for [recipient] in smtp_server.recipients) == [INTAKE, ONCALL]
    [alert] = [message for message in smtp_server.messages if message["To"] == ONCALL]
    assert alert["Subject"] == f"[EMERGENCY] Patient to call now: MILD request {reference}"
    assert f"https://screen.clinic.example/staff/requests/{reference}" in alert.get_content()
    for detail in PATIENT_DETAILS:
        assert detail not in text_of(alert), detail


def test_the_oncall_clinician_hears_only_of_emergencies_even_without_an_intake_address(
    make_app: Callable[..., Flask], smtp_server: Inbox
) -> None:
    app = make_app(**mail_config(smtp_server.host, smtp_server.port, ONCALL_EMAIL=ONCALL, MAIL_INTAKE_ADDRESS=""))
    patient_request(app)  # likely
    emergency = patient_request(app, EMERGENCY)
    deliver(app)
    assert smtp_server.recipients == [[ONCALL]]
    assert emergency in smtp_server.messages[0]["Subject"]


def test_a_likely_request_names_its_category_without_the_emergency_flag(mail_app: Flask, smtp_server: Inbox) -> None:
    reference = patient_request(mail_app)
    deliver(mail_app)
    [message] = smtp_server.messages
    assert message["Subject"] == f"New MILD consultation request {reference} (likely)"
    assert "EMERGENCY" not in text_of(message).upper()


def test_a_double_submit_sends_one_email(mail_app: Flask, smtp_server: Inbox) -> None:
    patient = mail_app.test_client()
    see_result(patient, EMERGENCY)
    token = csrf_token(patient.get("/request").text)
    patient.post("/request", data={"csrf_token": token, **CONTACT})
    token = csrf_token(patient.get("/request/check").text)
    first = patient.post("/request/check", data={"csrf_token": token})
    again = patient.post("/request/check", data={"csrf_token": token})  # the browser resends the POST
    assert first.headers["Location"] == again.headers["Location"] == "/request/sent"
    deliver(mail_app)
    deliver(mail_app)
    assert len(smtp_server.messages) == 1
    assert len(outbox(mail_app)) == 1


def test_background_delivery_sends_right_after_the_submission(
    make_app: Callable[..., Flask], smtp_server: Inbox
) -> None:
    app = make_app(**mail_config(smtp_server.host, smtp_server.port, MAIL_DELIVER_IN_BACKGROUND=True))
    reference = patient_request(app)
    join_delivery_threads()
    [message] = smtp_server.messages
    assert reference in message["Subject"]
    assert outbox(app)[0].sent_at is not None


# --- failures and retries ---------------------------------------------------------------------------

def test_with_the_smtp_server_down_the_patient_is_confirmed_and_the_email_waits(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(**mail_config("127.0.0.1", free_port(), MAIL_DELIVER_IN_BACKGROUND=True))
    patient = app.test_client()
    see_result(patient, EMERGENCY)
    assert send_request(patient).headers["Location"] == "/request/sent"
    join_delivery_threads()
    page = patient.get("/request/sent")
    assert page.status_code == 200

    [message] = outbox(app)
    assert message.sent_at is None and message.failed_at is None
    assert message.attempts == 1
    assert message.last_error and "refused" in message.last_error.lower()
    assert message.next_attempt_at > utcnow()
    assert any(r.name == "app.casework.notify" and r.levelno == logging.WARNING for r in caplog.records)


def test_after_the_last_attempt_the_message_is_failed_and_an_error_is_logged(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(**mail_config("127.0.0.1", free_port()))
    patient_request(app, EMERGENCY)
    with app.app_context():
        sender = build_sender(app.config)
        first = deliver_due(db.session, sender, utcnow(), max_attempts=2)
        too_soon = deliver_due(db.session, sender, utcnow(), max_attempts=2)
        later = deliver_due(db.session, sender, utcnow() + timedelta(hours=1), max_attempts=2)
    assert (first.retrying, too_soon.sent + too_soon.retrying, later.failed) == (1, 0, 1)

    [message] = outbox(app)
    assert message.failed_at is not None and message.sent_at is None and message.attempts == 2
    [record] = [r for r in caplog.records if r.name == "app.casework.notify" and r.levelno == logging.ERROR]
    assert f"message {message.id}" in record.getMessage()
    assert message.subject not in record.getMessage()  # the log names the message, not its contents
    assert deliver(app) == DeliveryReport()  # a failed message is never tried again


class FlakySender:
    """Fails for one recipient, records the rest."""

    def __init__(self, bad: str) -> None:
        self.bad = bad
        self.sent: list[str] = []

    def send(self, recipient: str, subject: str, body: str, attachment: str | None = None) -> None:
        """Raise for the bad recipient; remember the others."""
        if recipient == self.bad:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        self.sent.append(recipient)


def _queue(app: Flask, *recipients: str) -> None:
    with app.app_context():
        request = db.session.scalars(select(ConsultationRequest)).first()
        for recipient in recipients:
            queue_request_email(db.session, request, intake_address=recipient, request_url="https://x/r",
                                now=utcnow())
        db.session.commit()


def test_one_failing_message_does_not_hold_up_the_others(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    patient_request(app)
    _queue(app, "bad@clinic.example", "a@clinic.example", "b@clinic.example")
    sender = FlakySender("bad@clinic.example")
    with app.app_context():
        report = deliver_due(db.session, sender, utcnow())
    assert (report.sent, report.retrying) == (2, 1)
    assert sender.sent == ["a@clinic.example", "b@clinic.example"]
    assert [m.sent_at is not None for m in outbox(app)] == [False, True, True]


def test_two_workers_never_send_the_same_message(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    patient_request(app)
    _queue(app, INTAKE)
    with app.app_context():
        [message_id] = db.session.scalars(select(OutboxMessage.id)).all()
        now = utcnow()
        assert claim(db.session, message_id, 0, now) is True
        assert claim(db.session, message_id, 0, now) is False  # the second worker saw the same due row
        db.session.rollback()

        other_worker: list[DeliveryReport] = []

        class SlowSender:
            def send(self, recipient: str, subject: str, body: str, attachment: str | None = None) -> None:
                with Session(db.engine) as other:  # another worker runs while this one is mid-send
                    other_worker.append(deliver_due(other, FlakySender(""), now))

        report = deliver_due(db.session, SlowSender(), now)
    assert report.sent == 1
    assert other_worker == [DeliveryReport()]  # the claimed message was not due for the other worker


def test_retries_back_off_exponentially_up_to_a_ceiling() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert retry_delay(30) == timedelta(hours=6)


def test_smtp_credentials_are_never_sent_without_starttls() -> None:
    sender = SmtpSender(host="127.0.0.1", port=free_port(), from_address="a@b.example",
                        username="user", password="secret", starttls=False)
    with pytest.raises(ValueError, match="STARTTLS"):
        sender.send(INTAKE, "subject", "body")


def test_in_development_the_email_is_written_to_the_log(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(MAIL_SERVER="", MAIL_INTAKE_ADDRESS=INTAKE)
    assert isinstance(build_sender(app.config), LogSender)
    reference = patient_request(app)
    caplog.set_level(logging.INFO, logger="app.casework.notify")
    assert deliver(app).sent == 1
    assert any(reference in r.getMessage() for r in caplog.records if r.name == "app.casework.notify")


# --- admins and the command line --------------------------------------------------------------------

def test_the_admin_outbox_page_shows_a_failure_and_is_refused_to_the_front_desk(
    make_app: Callable[..., Flask]
) -> None:
    app = make_app(**mail_config("127.0.0.1", free_port(), MAIL_MAX_ATTEMPTS=1))
    reference = patient_request(app, EMERGENCY)
    assert deliver(app).failed == 1

    admin = app.test_client()
    login(admin, make_staff(app, "admin"))
    page = admin.get("/staff/admin/outbox")
    assert page.status_code == 200
    assert f"[EMERGENCY] New MILD consultation request {reference}" in page.text
    assert "Failed: <strong>1</strong>" in page.text
    assert 'class="tag tag--emergency">Failed<' in page.text
    assert "ConnectionRefusedError" in page.text
    for detail in PATIENT_DETAILS:
        assert detail not in page.text, detail

    frontdesk = app.test_client()
    login(frontdesk, make_staff(app, "frontdesk"))
    assert frontdesk.get("/staff/admin/outbox").status_code == 403


def test_the_outbox_send_command_delivers_what_is_due(mail_app: Flask, smtp_server: Inbox) -> None:
    reference = patient_request(mail_app)
    result = mail_app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 1, will retry 0, gave up on 0" in result.output
    assert [reference in m["Subject"] for m in smtp_server.messages] == [True]
    with mail_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.sent_at.is_(None))) == 0


# --- STARTTLS against a clinic's private certificate authority (MAIL_CA_FILE) ----------------------

def _private_ca(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA file, and a server TLS context whose certificate for 127.0.0.1 that CA signed."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Valley Clinic Private CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
          .not_valid_after(now + timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.valley.example")]))
              .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context


def test_starttls_trusts_the_clinics_private_ca_only_when_told(tmp_path: Path) -> None:
    ca_file, server_context = _private_ca(tmp_path)
    inbox = Inbox("127.0.0.1", free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port, tls_context=server_context,
                            require_starttls=True)
    controller.start()
    try:
        plain = SmtpSender(inbox.host, inbox.port, "screen@clinic.example", starttls=True, timeout=5)
        with pytest.raises(ssl.SSLCertVerificationError):
            plain.send(INTAKE, "Subject", "Body")  # the system's CAs do not know the clinic's CA
        trusting = SmtpSender(inbox.host, inbox.port, "screen@clinic.example", starttls=True, timeout=5,
                              ca_file=str(ca_file))
        trusting.send(INTAKE, "Subject", "Body")
    finally:
        controller.stop()
    assert [message["Subject"] for message in inbox.messages] == ["Subject"]
