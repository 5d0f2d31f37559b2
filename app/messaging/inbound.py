"""Texts from patients: keywords (STOP, START, HELP, C, R), the request they belong to, and delivery reports.

Each inbound text is stored once (a provider's retry of the same webhook finds it already there), on the
timeline of the newest request from that number, and in the staff Messages view; texts that need a person
(anything but a keyword) stay unread until someone opens them. No Flask.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.messaging.patient import MessagingSettings, clinic_fields, queue_message
from app.messaging.texting import OPTED_OUT_ERROR, DeliveryStatus, Inbound
from app.models import ConsultationRequest, InboundText, OutboxMessage, RequestEvent, TextOptOut
from app.platform.database import dialect_insert
from app.security.search_index import phone_index

# The carriers' opt-out and help words (CTIA), Twilio's, and their Spanish counterparts.
KEYWORDS = {
    "stop": {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "PARAR", "ALTO"},
    "start": {"START", "UNSTOP", "SUBSCRIBE", "RESUME", "INICIAR"},
    "help": {"HELP", "INFO", "AYUDA"},
    "confirm": {"C", "CONFIRM", "CONFIRMAR"},
    "reschedule": {"R", "RESCHEDULE", "CAMBIAR"},
}
# Keywords that need nobody to read them: the app has done what they ask.
HANDLED = frozenset({"stop", "start", "help", "confirm"})
BODY_MAX = 1600  # Twilio's longest message


def keyword_of(body: str) -> str | None:
    """The keyword a text is, if it is only one word of ``KEYWORDS`` (any case, punctuation around it ignored)."""
    word = re.sub(r"[^\w]", "", body.strip(), flags=re.UNICODE).upper()
    return next((name for name, words in KEYWORDS.items() if word in words), None)


def _request_for(session: Session, index: str) -> ConsultationRequest | None:
    """The newest open request from this number, else its newest request."""
    return session.scalar(
        select(ConsultationRequest).where(ConsultationRequest.phone_index == index)
        .order_by(ConsultationRequest.is_open.desc(), ConsultationRequest.created_at.desc()).limit(1)
    )


def receive(session: Session, text: Inbound, settings: MessagingSettings, now: datetime) -> InboundText | None:
    """Store a patient's text and act on its keyword; None when this text was already received (a retry).

    STOP records the opt-out and cancels every text not yet sent to that number; START removes it; HELP
    and START are answered (carriers require it; STOP's confirmation comes from the provider). C and R
    answer a visit reminder: the visit shows confirmed, or flagged for a new time.
    """
    index = phone_index(text.sender)
    keyword = keyword_of(text.body)
    stored = session.execute(
        dialect_insert(session)(InboundText).values(
            provider_id=text.provider_id, phone_index=index, keyword=keyword, received_at=now,
            sender=text.sender, body=text.body[:BODY_MAX],
        ).on_conflict_do_nothing().returning(InboundText.id)
    ).scalar()
    if stored is None:
        return None
    message = session.get_one(InboundText, stored)
    req = _request_for(session, index)
    message.request_id = req.id if req else None
    if keyword in HANDLED:
        message.read_at = now
    if keyword == "stop":
        _opt_out(session, index, now)
    elif keyword == "start":
        session.execute(delete(TextOptOut).where(TextOptOut.phone_index == index))
    if req is None:
        if keyword == "help" and settings.texting:  # carriers require an answer to HELP from any number
            session.add(OutboxMessage(channel="sms", kind="help", recipient=text.sender, phone_index=index,
                                      subject="Text: help", body=settings.wordings["en"].render_text(
                                          "help", clinic_fields(settings)),
                                      created_at=now, attempts=0, next_attempt_at=now))
        return message
    req.events.append(RequestEvent(kind="text_in", created_at=now, note=text.body[:BODY_MAX],
                                   data={"keyword": keyword, "inbound_id": message.id}))
    if keyword in ("help", "start") and settings.texting:
        queue_message(session, req, settings, keyword, "sms", now)
    elif keyword in ("confirm", "reschedule") and req.status == "scheduled" and req.scheduled_for \
            and req.scheduled_for > now:
        req.visit_reply = "confirmed" if keyword == "confirm" else "reschedule"
        req.visit_reply_at = now
        req.updated_at = now  # bumps the version: a colleague's open form sees the change
        req.events.append(RequestEvent(kind="visit_reply", created_at=now, data={"reply": req.visit_reply}))
        if settings.texting and req.consent_text:
            queue_message(session, req, settings, "confirmed" if keyword == "confirm" else "reschedule", "sms", now)
    return message


def _opt_out(session: Session, index: str, now: datetime) -> None:
    """Record the STOP and cancel every text to that number still waiting, from any part of the app."""
    session.execute(dialect_insert(session)(TextOptOut).values(phone_index=index, opted_out_at=now)
                    .on_conflict_do_nothing())
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.phone_index == index, OutboxMessage.channel == "sms", OutboxMessage.sent_at.is_(None),
               OutboxMessage.failed_at.is_(None), OutboxMessage.cancelled_at.is_(None))
        .values(cancelled_at=now, last_error="Not sent: the patient replied STOP to texts")
        .execution_options(synchronize_session=False)
    )


def record_status(session: Session, report: DeliveryStatus, now: datetime) -> bool:
    """Keep the provider's delivery state on the message; False when no message has that id.

    A text refused because the number had opted out at the provider records the opt-out here too.
    """
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == report.provider_id))
    if message is None:
        return False
    message.delivery_status = report.status[:24]
    if report.error_code == OPTED_OUT_ERROR and message.phone_index:
        _opt_out(session, message.phone_index, now)
    return True


def unread_count(session: Session) -> int:
    """Texts from patients nobody has read yet."""
    return session.scalar(select(func.count()).select_from(InboundText).where(InboundText.read_at.is_(None))) or 0


def unread_by_request(session: Session, request_ids: list[int]) -> dict[int, int]:
    """How many unread texts each of these requests has (requests without any are left out)."""
    if not request_ids:
        return {}
    rows = session.execute(
        select(InboundText.request_id, func.count()).where(InboundText.request_id.in_(request_ids),
                                                           InboundText.read_at.is_(None))
        .group_by(InboundText.request_id)
    ).all()
    return {request_id: count for request_id, count in rows}


def mark_read(session: Session, request_id: int, staff_id: int, now: datetime) -> None:
    """The request's texts were shown to this member of staff: they count as read (no commit)."""
    session.execute(update(InboundText).where(InboundText.request_id == request_id, InboundText.read_at.is_(None))
                    .values(read_at=now, read_by_id=staff_id).execution_options(synchronize_session=False))
