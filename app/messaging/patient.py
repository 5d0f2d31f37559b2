"""What the patient is sent, when, and by which channel; each message queued in the caller's transaction.

The acknowledgement goes right after sending, in the channel the patient chose (a text needs their separate
permission to text; none for "phone call"). A booked visit gets a confirmation (the email carries an
iCalendar invitation) and reminders at the configured times before it; moving or cancelling the visit
cancels the reminders not yet sent. Staff can send "we tried to reach you" and short replies. Functions take
the SQLAlchemy session, never commit, and add a timeline event for each message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.casework.notify import opted_out
from app.casework.work import StaleRequest
from app.intake.contact import format_phone
from app.intake.links import new_link
from app.messaging.invitation import visit_invitation
from app.messaging.templates import Wording
from app.models import ConsultationRequest, OutboxMessage, RequestEvent, StaffUser
from app.platform.clinic import Clinic

VISIT_KINDS = ("visit", "reminder")
REPLY_MAX = 300  # a staff reply: short, and no room for a clinical story
STAFF_TEMPLATES = ("call_us", "tried")

_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"),
}
_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}


# How staff read each kind of message on the timeline and in the outbox.
MESSAGE_WORDS = {
    "acknowledgement": "acknowledgement of the request", "visit": "visit confirmation",
    "reminder": "visit reminder", "tried": "“we tried to reach you”", "call_us": "“please call us”",
    "reply": "message", "help": "help reply", "start": "texts-on-again reply",
    "confirmed": "“visit confirmed” reply", "reschedule": "“we will call about a new time” reply",
    "documents_link": "link to send documents", "booking_link": "link to book a time",
}


class MessageRefused(ValueError):
    """A message cannot be sent (no channel, texts stopped, a reply too long); the text says why, for staff."""


@dataclass(frozen=True)
class MessagingSettings:
    """What deciding and writing a message needs: the clinic, its wording, and what is switched on."""

    clinic: Clinic
    wordings: Mapping[str, Wording]
    texting: bool
    reminders: tuple[timedelta, ...] = (timedelta(days=2), timedelta(hours=2))
    visit_length: timedelta = timedelta(minutes=45)
    sender_address: str = ""  # the From address, the invitation's organizer


def language_of(req: ConsultationRequest) -> str:
    """The language to write to the patient in: the one they asked to speak, else the one they screened in."""
    if req.preferred_language in ("en", "es"):
        return req.preferred_language
    return "es" if req.screen_language == "es" else "en"


def when_words(moment: datetime, clinic: Clinic, language: str) -> str:
    """``Tuesday, March 3 at 10:30 AM`` or ``martes 3 de marzo a las 10:30``, in the clinic's time zone."""
    local = moment.astimezone(clinic.timezone)
    day, month = _DAYS[language][local.weekday()], _MONTHS[language][local.month - 1]
    if language == "es":
        return f"{day} {local.day} de {month} a las {local:%H:%M}"
    hour = local.hour % 12 or 12
    return f"{day}, {month} {local.day} at {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def clinic_fields(settings: MessagingSettings) -> dict[str, str]:
    """The placeholders every message may use that belong to no request: the clinic's name, number, address."""
    clinic = settings.clinic
    return {
        "clinic": clinic.name,
        "clinic_phone": format_phone(clinic.phone, clinic.phone_region) if clinic.phone.startswith("+")
        else clinic.phone,
        "reference": "",
        "days": str(clinic.callback_days),
        "when": "",
        "address": clinic.address,
    }


def _fields(req: ConsultationRequest, settings: MessagingSettings, language: str) -> dict[str, str]:
    clinic = settings.clinic
    return {
        **clinic_fields(settings),
        "reference": req.reference,
        "when": when_words(req.scheduled_for, clinic, language) if req.scheduled_for else "",
        "address": visit_address(req, clinic),
    }


def visit_address(req: ConsultationRequest, clinic: Clinic) -> str:
    """Where the visit is: the booked location's name and address, else the clinic's address."""
    booking = req.active_booking
    return f"{booking.location.name}, {booking.location.address}" if booking else clinic.address


def can_text(session: Session, req: ConsultationRequest, settings: MessagingSettings) -> bool:
    """Texting is on, the patient allowed texts, and their number has not replied STOP."""
    return settings.texting and req.consent_text and not opted_out(session, req.phone_index)


def channel_for(session: Session, req: ConsultationRequest, settings: MessagingSettings,
                *, acknowledgement: bool = False) -> str | None:
    """How to write to the patient: ``sms``, ``email`` or None.

    The acknowledgement follows the way the patient chose to be contacted (none for a phone call). Later
    messages go by text when the patient allowed texts, else by email when they gave an address.
    """
    if acknowledgement:
        if req.preferred_contact == "text":
            return "sms" if can_text(session, req, settings) else None
        return "email" if req.preferred_contact == "email" and req.email else None
    if can_text(session, req, settings):
        return "sms"
    return "email" if req.email else None


def queue_message(session: Session, req: ConsultationRequest, settings: MessagingSettings, kind: str,
                  channel: str, now: datetime, *, due: datetime | None = None, actor: StaffUser | None = None,
                  body: str | None = None, extra: Mapping[str, str] | None = None) -> OutboxMessage:
    """Queue the message of ``kind`` (a template) or ``body`` (a staff reply) to the patient, with a timeline event.

    ``extra`` fills placeholders only some messages have (``{link}``), or gives ``{days}`` another meaning.
    """
    language = language_of(req)
    wording, fields = settings.wordings[language], {**_fields(req, settings, language), **(extra or {})}
    attachment = None
    if channel == "sms":
        subject, text = f"Text: {kind}", body or wording.render_text(kind, fields)
        recipient, phone_index = req.phone, req.phone_index
    else:
        subject, text = wording.render_email(kind, fields)  # staff's own words go by text only
        recipient, phone_index = req.email or "", None
        if kind == "visit" and req.scheduled_for is not None:
            attachment = visit_invitation(req, settings.clinic, settings.visit_length, now, settings.sender_address,
                                          subject)
    message = OutboxMessage(channel=channel, kind=kind, request_id=req.id, recipient=recipient,
                            phone_index=phone_index, subject=subject, body=text, attachment=attachment,
                            created_at=now, attempts=0, next_attempt_at=due or now)
    session.add(message)
    session.flush([message])  # its id, for the timeline to show whether it went
    req.events.append(RequestEvent(staff_id=actor.id if actor else None, kind="message", created_at=now,
                                   data={"message": kind, "channel": channel, "outbox_id": message.id,
                                         **({"due": due.isoformat()} if due else {})},
                                   note=body if actor is not None and body else None))
    return message


def acknowledge(session: Session, req: ConsultationRequest, settings: MessagingSettings,
                now: datetime) -> OutboxMessage | None:
    """Queue the acknowledgement of a new request, when the patient chose text (and allowed it) or email."""
    channel = channel_for(session, req, settings, acknowledgement=True)
    return queue_message(session, req, settings, "acknowledgement", channel, now) if channel else None


def cancel_visit_messages(session: Session, req: ConsultationRequest, now: datetime) -> None:
    """Cancel the confirmation and reminders of a visit that were not sent yet (the visit moved or ended)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.request_id == req.id, OutboxMessage.kind.in_(VISIT_KINDS),
               OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
               OutboxMessage.cancelled_at.is_(None))
        .values(cancelled_at=now, last_error="Not sent: the visit was moved or cancelled")
        .execution_options(synchronize_session=False)
    )


def visit_booked(session: Session, req: ConsultationRequest, settings: MessagingSettings, now: datetime,
                 actor: StaffUser | None = None) -> list[OutboxMessage]:
    """Queue the confirmation of ``req.scheduled_for`` and its reminders (those still ahead); cancel older ones."""
    cancel_visit_messages(session, req, now)
    req.visit_reply, req.visit_reply_at = None, None
    channel = channel_for(session, req, settings)
    if channel is None or req.scheduled_for is None or req.scheduled_for <= now:
        return []
    queued = [queue_message(session, req, settings, "visit", channel, now, actor=actor)]
    for before in settings.reminders:
        due = req.scheduled_for - before
        if due > now:
            queued.append(queue_message(session, req, settings, "reminder", channel, now, due=due, actor=actor))
    return queued


def after_status_change(session: Session, req: ConsultationRequest, before: tuple[str, datetime | None],
                        settings: MessagingSettings, now: datetime, actor: StaffUser | None) -> None:
    """Queue a visit's confirmation and reminders when it is booked or moved; cancel them when it is not on."""
    status, scheduled_for = before
    if req.status == "scheduled" and (status != "scheduled" or scheduled_for != req.scheduled_for):
        visit_booked(session, req, settings, now, actor)
    elif status == "scheduled" and req.status != "scheduled":
        cancel_visit_messages(session, req, now)


def staff_message(session: Session, req: ConsultationRequest, settings: MessagingSettings, now: datetime,
                  actor: StaffUser, *, expected_version: int, template: str | None = None,
                  text: str | None = None) -> OutboxMessage:
    """Queue a message from staff: one of ``STAFF_TEMPLATES`` ("we tried to reach you", "please call us"), or a
    short text of their own (texts only; at most ``REPLY_MAX`` characters).

    Sending bumps the request's version, so a double click (the same version twice) sends once.
    """
    if req.version != expected_version:
        raise StaleRequest
    req.updated_at = now
    channel = channel_for(session, req, settings)
    if channel is None:
        raise MessageRefused("This patient cannot be sent a message: they did not allow texts (or sent STOP) "
                             "and gave no email address. Call them instead.")
    if text is not None:
        if channel != "sms":
            raise MessageRefused("Your own words can only go by text. Choose a ready-made message to send an email.")
        body = " ".join(unicodedata.normalize("NFC", text).split())
        if not body:
            raise MessageRefused("Type the message, or choose a ready-made one")
        if len(body) > REPLY_MAX:
            raise MessageRefused(f"A message must be {REPLY_MAX} characters or fewer")
        if any(unicodedata.category(ch).startswith("C") for ch in body):
            raise MessageRefused("The message has a hidden character; type it again")
        return queue_message(session, req, settings, "reply", channel, now, actor=actor,
                      body=f"{settings.clinic.name}: {body}")
    if template not in STAFF_TEMPLATES:
        raise MessageRefused("Choose a message to send")
    return queue_message(session, req, settings, template, channel, now, actor=actor)


# What staff are told when a link cannot be sent, and what to do instead, per link purpose.
LINK_INSTEAD = {"documents": "Ask them to bring the documents instead.", "booking": "Book a time for them instead."}


def send_link(session: Session, req: ConsultationRequest, settings: MessagingSettings, now: datetime,
              actor: StaffUser, *, purpose: str, expected_version: int, valid_for: timedelta,
              link_url: Callable[[str], str]) -> OutboxMessage:
    """Make a link of ``purpose`` (send documents, book a time) and queue it to the patient (text if allowed,
    else email), as the message ``<purpose>_link``.

    ``link_url`` turns the link's token into the public address the message carries.
    """
    if req.version != expected_version:
        raise StaleRequest
    channel = channel_for(session, req, settings)
    if channel is None:
        raise MessageRefused("This patient cannot be sent a link: they did not allow texts (or sent STOP) and gave "
                             f"no email address. {LINK_INSTEAD[purpose]}")
    req.updated_at = now
    token = new_link(session, req, purpose, now=now, valid_for=valid_for, actor_id=actor.id)
    return queue_message(session, req, settings, f"{purpose}_link", channel, now, actor=actor,
                         extra={"link": link_url(token), "days": str(valid_for.days)})
