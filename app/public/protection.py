"""The patient pages' own protection: one rate limit on their form posts, and quiet bot checks."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum

from flask import Blueprint, current_app, request

from app.extensions import limiter
from app.intake.drafts import keep_typed, save_contact
from app.models import Draft
from app.public.forms import ContactForm, HoneypotForm

log = logging.getLogger(__name__)

PATIENT_POST_SCOPE = "patient-post"
# Kept in the draft's contact details (on the server, never in the cookie) from the first time the
# contact form is shown until the request is sent.
FORM_SHOWN_AT = "form_shown_at"


def patient_post_limit() -> str:
    """The per-IP budget for patient form posts (``RATELIMIT_PUBLIC_POST``)."""
    return str(current_app.config["RATELIMIT_PUBLIC_POST"])


def limit_patient_posts(bp: Blueprint) -> None:
    """Give every POST to ``bp`` one shared per-IP budget; GETs are never limited.

    One budget for all the patient's forms rather than one per page, so a script cannot multiply its
    allowance by spreading posts over pages. A real patient posts about a dozen times in all.
    """
    limiter.shared_limit(patient_post_limit, scope=PATIENT_POST_SCOPE, methods=["POST"])(bp)


def request_send_limit() -> str:
    """The per-address budget for the final send of a request (``RATELIMIT_REQUEST_SEND``)."""
    return str(current_app.config["RATELIMIT_REQUEST_SEND"])


# A few requests a day from one address is a family sharing a phone; more is someone filling the queue.
# Refused sends get the "call the clinic" page (the app's 429 handler knows this endpoint).
limit_sends = limiter.limit(request_send_limit, methods=["POST"], scope="request-send")


# Bot checks. A bot that is refused learns to adapt, so a post with the honeypot filled is answered
# exactly like a good one (the same redirect) but nothing is kept; the next page then finds no details and
# sends the browser back to the form. Two signs, each cheap and invisible to people:
# - a honeypot text box that people never see or reach (hidden by CSS, aria-hidden, out of the tab
#   order, no autofill) but form-filling scripts fill in;
# - the contact form posted sooner than FORM_MIN_SECONDS after it was first shown. Browser autofill lets
#   a real patient do that, so such a post is never dropped: the form comes back filled in exactly as
#   sent, with a line asking them to check it and continue, and the next post passes. A script that posts
#   once and moves on keeps nothing. The time is kept in the server-side draft rather than a signed form
#   field, so it cannot be replayed from one page load, and it is never reset until the request is sent.
# Only posts that are otherwise valid are judged, so an invalid post gets the usual error messages and
# a bot learns nothing from the difference.


class Verdict(Enum):
    """What became of a valid contact form post."""

    KEPT = "kept"  # the details are in the draft
    DROPPED = "dropped"  # the honeypot was filled: nothing kept, answered as if kept
    CHECK_AGAIN = "check again"  # sent too soon after the form was shown: kept as typed, shown again


def mark_form_shown(draft: Draft, now: datetime) -> None:
    """Remember when the contact form was first shown to this draft (later showings keep the first time)."""
    if FORM_SHOWN_AT not in draft.contact:
        draft.contact = {**draft.contact, FORM_SHOWN_AT: now.isoformat()}


def _shown_at(draft: Draft) -> datetime | None:
    value = draft.contact.get(FORM_SHOWN_AT)
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _filled_too_fast(draft: Draft, now: datetime) -> bool:
    minimum = float(current_app.config["FORM_MIN_SECONDS"])
    if minimum <= 0:
        return False
    shown = _shown_at(draft)
    return shown is None or now - shown < timedelta(seconds=minimum)


def looks_automated(form: HoneypotForm) -> bool:
    """Whether a valid post should be quietly dropped: its honeypot box was filled in.

    Logs one INFO line naming the page, never anything that was submitted.
    """
    if not form.honeypot_filled():
        return False
    log.info("Dropped a post to %s that looked automated: the hidden field was filled in", request.endpoint)
    return True


def accept_contact(form: ContactForm, typed: Mapping[str, str], draft: Draft, now: datetime) -> Verdict:
    """Keep the validated contact details in the draft, or say why not (``typed``: the form as sent)."""
    if looks_automated(form):
        return Verdict.DROPPED
    if _filled_too_fast(draft, now):
        log.info("A contact form was sent too soon after it was shown; it is shown again to check")
        keep_typed(draft, typed, now)  # the view shows it again, which starts the clock if it had not started
        return Verdict.CHECK_AGAIN
    shown = draft.contact.get(FORM_SHOWN_AT)
    save_contact(draft, {**form.contact_data(), **({FORM_SHOWN_AT: shown} if shown else {})}, now)
    return Verdict.KEPT
