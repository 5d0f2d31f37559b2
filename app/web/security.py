"""HTTP security: headers on every response, one rate limit on patient POSTs, and quiet bot checks.

No template has inline script, inline style or event-handler attributes, so the Content-Security-Policy
can refuse all of them; keep it that way (tests/test_security_headers.py checks every page it can reach).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, request

from app.drafts import save_contact
from app.extensions import limiter
from app.models import Draft

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from app.public.forms import ContactForm, HoneypotForm

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",  # the staff two-factor QR code may be rendered as a data: URI
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",  # no page may be framed: no clickjacking of the send or staff buttons
        "form-action 'self'",
    )
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Addresses can hold a request reference: never send them to another site.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
}
# Only sent over HTTPS: over plain HTTP a browser ignores it, and a development server must stay reachable.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"

PATIENT_POST_SCOPE = "patient-post"
# Kept in the draft's contact details (on the server, never in the cookie) from the first time the
# contact form is shown until the request is sent.
FORM_SHOWN_AT = "form_shown_at"


def init_security(app: Flask) -> None:
    """Register the security headers on ``app``; trust proxy headers only when configured.

    The rate limit is declared on the patient blueprint.
    """
    app.after_request(add_security_headers)
    app.wsgi_app = SecurityHeaders(app.wsgi_app)  # type: ignore[method-assign]
    hops = int(app.config.get("TRUSTED_PROXY_COUNT", 0))
    if hops > 0:
        # X-Forwarded-* are trusted only from this many proxies in front of the app; without a proxy
        # they are client-controlled, so the default (0) ignores them.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


class SecurityHeaders:
    """WSGI middleware: ``SECURITY_HEADERS`` on every response (pages, redirects, static files, error pages).

    Added to the header list as the response starts, where a view's own value of one of them stands. Through
    Flask's ``response.headers.update`` in an after-request hook the same eight headers cost about a tenth of
    a question page's GET in process (Werkzeug checks each value again on every response; these are fixed).
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    # (lower-case name, header) pairs, made once: header names compare without regard to case.
    ITEMS = tuple((name.lower(), (name, value)) for name, value in SECURITY_HEADERS.items())

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            headers.extend(header for lower, header in self.ITEMS if lower not in present)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def add_security_headers(response: Response) -> Response:
    """Set the headers that depend on the response: HSTS over HTTPS, and no caching of error pages.

    An app-wide hook, so it runs after the blueprints' own hooks: their Cache-Control stands, except
    that an error page is never stored. The fixed headers come from ``SecurityHeaders``.
    """
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    # Error pages can echo what was asked for, and a response with no caching policy of its own
    # must not be kept by a shared cache; static files keep theirs.
    if response.status_code >= 400 or "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def patient_post_limit() -> str:
    """The per-IP budget for patient form posts (``RATELIMIT_PUBLIC_POST``)."""
    return str(current_app.config["RATELIMIT_PUBLIC_POST"])


def limit_patient_posts(bp: Blueprint) -> None:
    """Give every POST to ``bp`` one shared per-IP budget; GETs are never limited.

    One budget for all the patient's forms rather than one per page, so a script cannot multiply its
    allowance by spreading posts over pages. A real patient posts about a dozen times in all.
    """
    limiter.shared_limit(patient_post_limit, scope=PATIENT_POST_SCOPE, methods=["POST"])(bp)


# Bot checks. A bot that is refused learns to adapt, so a post that looks automated is answered exactly
# like a good one (the same redirect) but nothing is kept; the next page then finds no details and sends
# the browser back to the form. Two signs, each cheap and invisible to people:
# - a honeypot text box that people never see or reach (hidden by CSS, aria-hidden, out of the tab
#   order, no autofill) but form-filling scripts fill in;
# - the contact form posted sooner than FORM_MIN_SECONDS after it was first shown. The time is kept in
#   the server-side draft rather than a signed form field, so it cannot be replayed from one page load,
#   and it is never reset until the request is sent: a patient who comes back to change a detail, or
#   whose first post was dropped, always passes on the next try.
# Only posts that are otherwise valid are judged, so an invalid post gets the usual error messages and
# a bot learns nothing from the difference.


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


def looks_automated(form: HoneypotForm, draft: Draft | None = None, now: datetime | None = None) -> bool:
    """Whether a valid post should be quietly dropped: honeypot filled, or (given a draft) sent too soon.

    Logs one INFO line naming the page and the reason, never anything that was submitted.
    """
    if form.honeypot_filled():
        reason = "the hidden field was filled in"
    elif draft is not None and now is not None and _filled_too_fast(draft, now):
        reason = "it was sent too soon after the form was shown"
    else:
        return False
    log.info("Dropped a post to %s that looked automated: %s", request.endpoint, reason)
    return True


def accept_contact(form: ContactForm, draft: Draft, now: datetime) -> None:
    """Keep the validated contact details in the draft, unless the post looks automated (then keep nothing)."""
    if looks_automated(form, draft, now):
        return
    shown = draft.contact.get(FORM_SHOWN_AT)
    save_contact(draft, {**form.contact_data(), **({FORM_SHOWN_AT: shown} if shown else {})}, now)
