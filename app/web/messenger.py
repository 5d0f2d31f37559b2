"""Flask glue for messages to patients (app/messaging/): settings from the app's config, the text provider.

Queuing happens in the transaction of the change that causes a message; ``flask worker`` (app/cli/worker.py)
delivers what is due.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import time, timedelta
from typing import Any

from flask import current_app

from app.extensions import db
from app.messaging.digest import queue_overdue_digest
from app.messaging.patient import MessagingSettings, acknowledge
from app.messaging.settings import parse_reminders
from app.messaging.texting import LogTextProvider, TextProvider, TwilioProvider
from app.models import ConsultationRequest, utcnow

logger = logging.getLogger("app.messaging")

def texting_on(config: Mapping[str, Any] | None = None) -> bool:
    """Whether texting is switched on (TEXT_PROVIDER)."""
    return bool((config or current_app.config).get("TEXT_PROVIDER"))


def build_text_provider(config: Mapping[str, Any]) -> TextProvider | None:
    """The configured text provider, or None when texting is off."""
    name = config.get("TEXT_PROVIDER", "")
    if not name:
        return None
    if name == "log":
        return LogTextProvider()
    if name != "twilio":
        raise ValueError(f"TEXT_PROVIDER: unknown provider {name!r}; use twilio, log, or leave it empty")
    base = config["PUBLIC_BASE_URL"].rstrip("/")
    return TwilioProvider(account_sid=config["TWILIO_ACCOUNT_SID"], auth_token=config["TWILIO_AUTH_TOKEN"],
                          sender=config["TWILIO_FROM"], status_callback=f"{base}/webhooks/text/status" if base else "",
                          api_base=config.get("TWILIO_API_BASE", ""))


def messaging_settings() -> MessagingSettings:
    """What the messaging functions need, from the running app."""
    config, content = current_app.config, current_app.extensions["clinic_content"]
    return MessagingSettings(
        clinic=current_app.extensions["clinic"],
        wordings={language: content[language].messages for language in content},
        texting=texting_on(config),
        reminders=parse_reminders(config["VISIT_REMINDERS"]),
        visit_length=timedelta(minutes=int(config["VISIT_LENGTH_MINUTES"])),
        sender_address=config["MAIL_FROM"],
    )


def queue_acknowledgement(request_id: int) -> bool:
    """Queue the patient's acknowledgement of a new request (same transaction); False when none is sent.

    Like the staff notice, a fault is logged and rolled back to a savepoint: it never costs the submission.
    """
    try:
        with db.session.begin_nested():
            req = db.session.get_one(ConsultationRequest, request_id)
            return acknowledge(db.session, req, messaging_settings(), utcnow()) is not None
    except Exception:
        logger.exception("Could not queue the acknowledgement of a new request")
        return False


def run_daily_jobs() -> bool:
    """Queue the morning digest of overdue requests when it is time (commits); True when one was queued."""
    config = current_app.config
    intake, at = config["MAIL_INTAKE_ADDRESS"], config.get("OVERDUE_DIGEST_TIME", "")
    if not intake or not at:
        return False
    path = current_app.url_map.bind("localhost").build("staff.queue")
    queued = queue_overdue_digest(db.session, current_app.extensions["clinic"], intake_address=intake,
                                  call_list_url=config["PUBLIC_BASE_URL"].rstrip("/") + path,
                                  at=time.fromisoformat(at), now=utcnow())
    db.session.commit()
    return queued is not None
