"""The text provider's webhooks: texts from patients, and delivery reports of texts sent.

Every request must carry the provider's signature over the public URL (PUBLIC_BASE_URL plus the path, as the
provider was told it) and the form; anything else is refused with 403 and nothing is stored. The answer is an
empty TwiML response: replies go through the outbox like every other message.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request

from app.extensions import csrf, db
from app.messaging.inbound import receive, record_status
from app.models import utcnow
from app.web.messenger import build_text_provider, messaging_settings

bp = Blueprint("text_webhooks", __name__, url_prefix="/webhooks/text")
logger = logging.getLogger("app.messaging")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _genuine_form() -> dict[str, str]:
    """The webhook's form, once its signature checks out; 404 when texting is off, 403 when it does not."""
    provider = build_text_provider(current_app.config)
    if provider is None:
        abort(404)
    public_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + request.full_path.rstrip("?")
    form = request.form.to_dict()
    if not provider.is_genuine(public_url, form, request.headers.get("X-Twilio-Signature", "")):
        logger.warning("Text webhook refused: the signature does not match (%s)", request.path)
        abort(403)
    return form


@bp.post("/inbound")
@csrf.exempt
def inbound() -> Response:
    """A text from a patient: stored once, matched to their request, keywords acted on."""
    form = _genuine_form()
    provider = build_text_provider(current_app.config)
    assert provider is not None  # noqa: S101 - _genuine_form answered 404 otherwise
    try:
        text = provider.inbound(form)
    except ValueError:
        abort(400)
    receive(db.session, text, messaging_settings(), utcnow())
    db.session.commit()
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/status")
@csrf.exempt
def status() -> Response:
    """A delivery report on a text the app sent."""
    form = _genuine_form()
    provider = build_text_provider(current_app.config)
    assert provider is not None  # noqa: S101
    try:
        report = provider.status(form)
    except ValueError:
        abort(400)
    record_status(db.session, report, utcnow())
    db.session.commit()
    return Response(EMPTY_TWIML, mimetype="text/xml")
