"""The outbox: email notices of new requests, and the delivery of every queued email and text.

A notice is queued as an ``OutboxMessage`` in the same transaction as the request, so there is never an
email for a request that was not stored, nor a stored request whose email was forgotten. Sending happens
later (``deliver_due``), with retries and exponential backoff; a message that keeps failing is marked
failed, logged, and shown to admins.

The email says only that a request exists: reference, category, when, and a link that needs a staff
sign-in. Never the patient's name, contact details, date of birth, answers or message.

Texts and emails to patients are queued by app/messaging/patient.py into the same table and delivered here
too. Functions take the SQLAlchemy session and plain values.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, CursorResult, and_, case, exists, func, select, update
from sqlalchemy.orm import Session

from app.messaging.texting import TextProvider
from app.models import OutboxMessage, TextOptOut
from app.security.search_index import phone_index

logger = logging.getLogger("app.casework.notify")


class RequestNotice(Protocol):
    """What the notice of a new request tells: a stored request (ORM row or ``workflow.StoredRequest``)."""

    @property
    def reference(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


DEFAULT_MAX_ATTEMPTS = 8
# While one worker is sending a batch, others leave it alone. Longer than a batch of SMTP conversations
# or API calls (each bounded by its timeout); if the worker dies mid-batch, what it had not sent is
# retried after this.
CLAIM_LEASE = timedelta(minutes=5)
BATCH_SIZE = 10
# Replies a carrier requires even after STOP (HELP), and the confirmation of START itself.
SENT_AFTER_STOP = frozenset({"help", "start"})
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
ERROR_LENGTH = 200

CATEGORY_WORDS = {
    "emergency": "Emergency: the patient's answers included a warning sign that needs urgent care",
    "likely": "Likely fit for MILD",
    "possible": "Possible fit for MILD",
    "unlikely": "Unlikely fit for MILD",
}


class Sender(Protocol):
    """Something that delivers one email or raises."""

    def send(self, recipient: str, subject: str, body: str, attachment: str | None = None) -> None:
        """Deliver the email (with an iCalendar ``attachment``); raise any exception when it was not handed over."""


@dataclass(frozen=True)
class SmtpSender:
    """Sends through an SMTP server (smtplib), optionally upgrading to TLS with STARTTLS."""

    host: str
    port: int
    from_address: str
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10.0
    ca_file: str = ""  # a PEM file of the certificate authorities to trust (a private CA); empty = the system's

    def send(self, recipient: str, subject: str, body: str, attachment: str | None = None) -> None:
        """Open a connection, send one message, close; raises on any failure."""
        if self.username and not self.starttls:
            # smtplib would send the password in clear text; refuse rather than leak it.
            raise ValueError("SMTP credentials are set but MAIL_USE_STARTTLS is off; not sending them in clear")
        message = build_message(self.from_address, recipient, subject, body, attachment)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                # Verifies the server's certificate and name, against the clinic's own CA when one is configured.
                smtp.starttls(context=ssl.create_default_context(cafile=self.ca_file or None))
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


@dataclass(frozen=True)
class LogSender:
    """Development stand-in: writes the email to the log instead of sending it.

    Logged as a warning so it shows without logging set-up, and so a production server that was left
    without ``MAIL_SERVER`` says loudly that nothing is being sent. The body carries no patient details.
    """

    def send(self, recipient: str, subject: str, body: str, attachment: str | None = None) -> None:
        """Write the email to the ``app.casework.notify`` log, all but its recipient (a patient's address)."""
        logger.warning("MAIL_SERVER is not set; email written here, not sent (recipient not logged).\n"
                       "Subject: %s%s\n\n%s", subject, " (with a calendar invitation)" if attachment else "", body)


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0  # claimed by another worker between our look-up and our claim
    cancelled: int = 0  # texts to a number that replied STOP


def build_message(from_address: str, recipient: str, subject: str, body: str,
                  attachment: str | None = None) -> EmailMessage:
    """A plain-text email, with an iCalendar invitation attached when given.

    The header policy refuses line breaks in headers (no header injection).
    """
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to this
    message.set_content(body)
    if attachment:
        message.add_attachment(attachment.encode("utf-8"), maintype="text", subtype="calendar",
                               filename="visit.ics", params={"method": "REQUEST"})
    return message


def request_subject(request: RequestNotice) -> str:
    """``[EMERGENCY] New MILD consultation request K7QM-4HXT``, or ``... K7QM-4HXT (likely)``."""
    if request.category == "emergency":
        return f"[EMERGENCY] New MILD consultation request {request.reference}"
    return f"New MILD consultation request {request.reference} ({request.category})"


def request_body(request: RequestNotice, request_url: str, timezone: tzinfo = UTC) -> str:
    """The email text: reference, category, when and the staff link; deliberately no patient details."""
    submitted = request.created_at.astimezone(timezone).strftime("%d %b %Y %H:%M %Z")
    category = CATEGORY_WORDS.get(request.category, request.category)
    return (
        "A new consultation request was sent through the MILD self-screen.\n\n"
        f"Reference: {request.reference}\n"
        f"Category:  {category}\n"
        f"Submitted: {submitted}\n\n"
        "Open the request (staff sign-in needed):\n"
        f"{request_url}\n\n"
        "This email deliberately contains no patient details; they are only in the staff console.\n"
    )


def queue_request_email(
    session: Session,
    request: RequestNotice,
    *,
    intake_address: str,
    request_url: str,
    now: datetime,
    timezone: tzinfo = UTC,
) -> OutboxMessage:
    """Add the notice of a new request to the outbox in ``session``'s transaction (no commit)."""
    message = OutboxMessage(recipient=intake_address, subject=request_subject(request),
                            body=request_body(request, request_url, timezone), created_at=now, attempts=0,
                            next_attempt_at=now)
    session.add(message)
    return message


def oncall_body(request: RequestNotice, request_url: str, timezone: tzinfo = UTC) -> str:
    """The on-call alert of an emergency request: reference, time, link and what to do; no patient details."""
    submitted = request.created_at.astimezone(timezone).strftime("%d %b %Y %H:%M %Z")
    return (
        "A patient answered the MILD self-screen's safety questions in a way that needs emergency care.\n\n"
        f"Reference: {request.reference}\n"
        f"Submitted: {submitted}\n\n"
        "The front desk has been asked to call the patient now. Open the request to see the answers and\n"
        "what has been done (staff sign-in needed):\n"
        f"{request_url}\n\n"
        "This email deliberately contains no patient details; they are only in the staff console.\n"
    )


def queue_oncall_alert(
    session: Session,
    request: RequestNotice,
    *,
    oncall_address: str,
    request_url: str,
    now: datetime,
    timezone: tzinfo = UTC,
) -> OutboxMessage:
    """Add the on-call clinician's alert of an emergency request to the outbox (no commit)."""
    message = OutboxMessage(recipient=oncall_address,
                            subject=f"[EMERGENCY] Patient to call now: MILD request {request.reference}",
                            body=oncall_body(request, request_url, timezone), created_at=now, attempts=0,
                            next_attempt_at=now)
    session.add(message)
    return message


def queue_oncall_text(session: Session, request: RequestNotice, *, oncall_phone: str, clinic_name: str,
                      now: datetime) -> OutboxMessage:
    """Add the on-call clinician's text alert of an emergency request (no commit): reference and what to do."""
    body = (f"{clinic_name} MILD self-screen: EMERGENCY request {request.reference}. The front desk is asked to "
            "call the patient now. Details in the staff console only.")
    message = OutboxMessage(channel="sms", kind="oncall", recipient=oncall_phone, phone_index=phone_index(oncall_phone),
                            subject=f"Text: on-call alert {request.reference}", body=body, created_at=now,
                            attempts=0, next_attempt_at=now)
    session.add(message)
    return message


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 1, 2, 4, 8 ... minutes, at most 6 hours."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def _is_due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions of a message that should be tried now."""
    return (
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.cancelled_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
    )


def claim(session: Session, message_id: int, seen_attempts: int, now: datetime,
          lease: timedelta = CLAIM_LEASE) -> bool:
    """Take a due message for sending; False if another worker took it first.

    One conditional UPDATE: it matches only while the message is still due and still has the attempt
    count we saw, so of two workers that both saw it due, exactly one changes the row. The claim counts
    as an attempt and moves ``next_attempt_at`` past the lease, so nobody else picks it up meanwhile.
    Does not commit; the caller commits before sending so other workers see the claim.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.attempts == seen_attempts, *_is_due(now))
        .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def claim_batch(session: Session, now: datetime, lease: timedelta = CLAIM_LEASE,
                size: int = BATCH_SIZE) -> tuple[list[int], int]:
    """Claim up to ``size`` due messages, oldest due first, and commit; return their ids and how many were lost.

    On PostgreSQL the look-up locks the rows it returns and skips rows another worker has locked
    (``FOR UPDATE SKIP LOCKED``), so several workers take different batches without waiting for each other.
    SQLite has no row locks (SQLAlchemy leaves the clause out) and serialises writers; there the
    conditional claim alone keeps two workers from taking the same message.
    """
    due = session.execute(
        select(OutboxMessage.id, OutboxMessage.attempts)
        .where(*_is_due(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(size)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = [message_id for message_id, seen in due if claim(session, message_id, seen, now, lease)]
    session.commit()
    return claimed, len(due) - len(claimed)


def opted_out(session: Session, phone_index: str | None) -> bool:
    """Whether the number with this blind index replied STOP (and not START since)."""
    return phone_index is not None and bool(session.scalar(
        select(exists().where(TextOptOut.phone_index == phone_index))))


def deliver_due(
    session: Session,
    sender: Sender,
    now: datetime,
    *,
    texts: TextProvider | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    lease: timedelta = CLAIM_LEASE,
    limit: int = 100,
    batch_size: int = BATCH_SIZE,
) -> DeliveryReport:
    """Send every message that is due (up to ``limit``), a claimed batch at a time, and record each outcome.

    Emails go through ``sender``, texts through ``texts`` (a text is refused when texting is off). A text to a
    number that replied STOP is cancelled, not sent. This commits once for each batch's claim and once for
    each outcome: a claim must be visible to other workers before the slow network calls, and each message's
    result is kept on its own, so one failure never undoes or blocks another message. A worker killed
    mid-batch leaves its unsent claims to be retried when the lease ends. A text it may have handed over
    without recording it is first looked for at the provider, so it is not sent twice; an email in that
    state is sent again (at least once, never silently lost). Call it with nothing else pending in ``session``.
    """
    report = DeliveryReport()
    session.commit()
    while report.sent + report.retrying + report.failed + report.cancelled < limit:
        claimed, lost = claim_batch(session, now, lease, min(batch_size, limit))
        report.skipped += lost
        if not claimed:
            break
        for message_id in claimed:
            _deliver_one(session, session.get_one(OutboxMessage, message_id), sender, texts, now, max_attempts,
                         report)
            session.commit()
    return report


def _deliver_one(session: Session, message: OutboxMessage, sender: Sender, texts: TextProvider | None,
                 now: datetime, max_attempts: int, report: DeliveryReport) -> None:
    """Send one claimed message and record the outcome on it (no commit)."""
    if message.channel == "sms" and message.kind not in SENT_AFTER_STOP and opted_out(session, message.phone_index):
        message.cancelled_at, message.last_error = now, "Not sent: the patient replied STOP to texts"
        report.cancelled += 1
        return
    try:
        if message.channel == "sms":
            if texts is None:
                raise RuntimeError("Texting is off (TEXT_PROVIDER is empty)")
            # Tried before with no outcome recorded: the worker died mid-send. Ask the provider first.
            in_doubt = message.attempts > 1 and message.last_error is None
            found = texts.find_sent(message.recipient, message.body, message.created_at) if in_doubt else None
            message.provider_id = found or texts.send(message.recipient, message.body)
        else:
            sender.send(message.recipient, message.subject, message.body, message.attachment)
    except Exception as exc:  # any failure of any sender: record it and go on to the next message
        _record_failure(message, exc, now, max_attempts, report)
    else:
        message.sent_at = now
        report.sent += 1


def _record_failure(message: OutboxMessage, exc: Exception, now: datetime, max_attempts: int,
                    report: DeliveryReport) -> None:
    """Keep the error (short, one line), then schedule a retry or give up after ``max_attempts``."""
    # An SMTP refusal quotes the address: a patient's address stays out of the log and the error column.
    error = f"{type(exc).__name__}: {exc}".replace(message.recipient, "(the recipient)")
    message.last_error = " ".join(error.split())[:ERROR_LENGTH]
    if message.attempts >= max_attempts:
        message.failed_at = now
        report.failed += 1
        # The id and the error only: the subject and body stay out of the log.
        logger.error("Outbox message %d not sent after %d attempts; giving up. Last error: %s",
                     message.id, message.attempts, message.last_error)
        return
    message.next_attempt_at = now + retry_delay(message.attempts)
    report.retrying += 1
    logger.warning("Outbox message %d not sent (attempt %d of %d); next try at %s. Error: %s",
                   message.id, message.attempts, max_attempts, message.next_attempt_at.isoformat(),
                   message.last_error)


def outbox_counts(session: Session) -> dict[str, int]:
    """How many messages are waiting (queued or retrying), sent, and failed."""
    def count(*conditions: ColumnElement[bool]) -> Any:
        return func.count(case((and_(*conditions), 1)))  # COUNT skips the NULLs of unmatched rows

    waiting, sent, failed = session.execute(
        select(
            count(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
                  OutboxMessage.cancelled_at.is_(None)),
            count(OutboxMessage.sent_at.is_not(None)),
            count(OutboxMessage.failed_at.is_not(None)),
        )
    ).one()
    return {"waiting": waiting, "sent": sent, "failed": failed}


def recent_messages(session: Session, limit: int = 100) -> list[OutboxMessage]:
    """The newest messages first."""
    return list(session.scalars(
        select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
    ))
