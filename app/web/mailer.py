"""Flask glue for the outbox (app/casework/notify.py): settings from the app's config, delivery in an app context.

The patient's submission never waits for, or fails because of, email: the notice is queued in the
request's transaction and sent afterwards, in a background thread or by ``flask outbox send``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, current_app

from app.casework.notify import (
    DeliveryReport,
    LogSender,
    RequestNotice,
    Sender,
    SmtpSender,
    deliver_due,
    queue_oncall_alert,
    queue_oncall_text,
    queue_request_email,
)
from app.extensions import db
from app.models import utcnow
from app.web.messenger import build_text_provider, texting_on

logger = logging.getLogger("app.casework.notify")


def build_sender(config: Mapping[str, Any]) -> Sender:
    """An SMTP sender from the ``MAIL_*`` settings, or a log writer when ``MAIL_SERVER`` is empty."""
    if not config["MAIL_SERVER"]:
        return LogSender()
    return SmtpSender(
        host=config["MAIL_SERVER"],
        port=int(config["MAIL_PORT"]),
        from_address=config["MAIL_FROM"],
        username=config["MAIL_USERNAME"],
        password=config["MAIL_PASSWORD"],
        starttls=bool(config["MAIL_USE_STARTTLS"]),
        timeout=float(config["MAIL_TIMEOUT"]),
        ca_file=str(config.get("MAIL_CA_FILE") or ""),
    )


def request_url(reference: str) -> str:
    """The staff page of a request, on ``PUBLIC_BASE_URL`` (never on the Host header of the request)."""
    path = current_app.url_map.bind("localhost").build("staff.request_detail", {"reference": reference})
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def queue_new_request_email(consultation: RequestNotice) -> bool:
    """Queue the notices of a new request in the current transaction; False when none was queued.

    The intake address (``MAIL_INTAKE_ADDRESS``) hears of every request; the on-call clinician
    (``ONCALL_EMAIL``) also hears of an emergency at once. Call before the commit that stores the request.
    A fault here is logged and swallowed inside a savepoint, so it can never cost the patient their submission.
    """
    config = current_app.config
    emergency = consultation.category == "emergency"
    intake = config["MAIL_INTAKE_ADDRESS"]
    oncall = config.get("ONCALL_EMAIL", "") if emergency else ""
    oncall_phone = config.get("ONCALL_PHONE", "") if emergency and texting_on(config) else ""
    if not intake and not oncall and not oncall_phone:
        return False
    try:
        link, now, tz = request_url(consultation.reference), utcnow(), current_app.extensions["clinic"].timezone
        with db.session.begin_nested():  # a savepoint: a fault rolls back the notices, never the request
            if intake:
                queue_request_email(db.session, consultation, intake_address=intake, request_url=link, now=now,
                                    timezone=tz)
            if oncall:
                queue_oncall_alert(db.session, consultation, oncall_address=oncall, request_url=link, now=now,
                                   timezone=tz)
            if oncall_phone:
                queue_oncall_text(db.session, consultation, oncall_phone=oncall_phone,
                                  clinic_name=current_app.extensions["clinic"].name, now=now)
    except Exception:  # the request matters more than its notice; the log says what went wrong
        logger.exception("Could not queue the emails for request %s", consultation.reference)
        return False
    return True


def deliver_pending() -> DeliveryReport:
    """Send everything due now with the configured sender (needs an app context; commits)."""
    current_app.logger  # noqa: B018 - creating Flask's logger attaches its handler, so app.casework.notify errors show
    config = current_app.config
    return deliver_due(db.session, build_sender(config), utcnow(), texts=build_text_provider(config),
                       max_attempts=int(config["MAIL_MAX_ATTEMPTS"]),
                       lease=timedelta(seconds=int(config["OUTBOX_LEASE_SECONDS"])))


def deliver_soon() -> None:
    """After the commit: start delivery in a daemon thread, unless ``MAIL_DELIVER_IN_BACKGROUND`` is off.

    The response does not wait for it. Whatever the thread does not send, the outbox command retries.
    """
    if not current_app.config["MAIL_DELIVER_IN_BACKGROUND"]:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the real app, for the thread
    try:
        threading.Thread(target=_deliver_in_thread, args=(app,), name="outbox-delivery", daemon=True).start()
    except RuntimeError:  # cannot start a thread (resource limits): the message waits for the command
        logger.exception("Could not start the outbox delivery thread")


def _deliver_in_thread(app: Flask) -> None:
    """Deliver in the thread's own app context (its own database session); log, never raise."""
    with app.app_context():
        try:
            deliver_pending()
        except Exception:
            logger.exception("Outbox delivery failed")
