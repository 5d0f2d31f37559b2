"""HTTP security: headers on every response and proxy trust (the patient pages' own protection is in
app/public/protection.py).

No template has inline script, inline style or event-handler attributes, so the Content-Security-Policy
can refuse all of them; keep it that way (tests/test_security_headers.py checks every page it can reach).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

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



def init_security(app: Flask) -> None:
    """Register the security headers on ``app``; trust proxy headers only when configured.

    The rate limits are declared on the routes they limit.
    """
    app.after_request(add_security_headers)
    app.before_request(refuse_posts_from_other_sites)
    app.wsgi_app = SecurityHeaders(app.wsgi_app)  # type: ignore[method-assign]
    hops = int(app.config.get("TRUSTED_PROXY_COUNT", 0))
    if hops > 0:
        # X-Forwarded-* are trusted only from this many proxies in front of the app; without a proxy
        # they are client-controlled, so the default (0) ignores them.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    else:
        app.before_request(_warn_about_an_untrusted_proxy(app))


FORWARDED_HEADERS = ("X-Forwarded-For", "X-Forwarded-Proto", "Forwarded")


def _warn_about_an_untrusted_proxy(app: Flask) -> Any:
    """A hook that logs once per process when proxy headers arrive while TRUSTED_PROXY_COUNT is 0.

    Behind a proxy with the count at 0, HSTS is never sent and every audit row records the proxy's address;
    the headers are still ignored (a client may send them), only the operator is told.
    """
    warned: list[bool] = []

    def warn() -> None:
        if not warned and any(name in request.headers for name in FORWARDED_HEADERS):
            warned.append(True)
            app.logger.warning(
                "a request arrived with proxy headers (X-Forwarded-For/-Proto) but TRUSTED_PROXY_COUNT is 0: they "
                "are ignored, so HSTS is not sent and the audit log records the proxy's address. Behind one proxy "
                "(Caddy, deploy/Caddyfile) set TRUSTED_PROXY_COUNT=1")

    return warn


class SecurityHeaders:
    """WSGI middleware: ``SECURITY_HEADERS`` on every response (pages, redirects, static files, error pages).

    Added to the header list as the response starts, where a view's own value of one of them stands (fixed
    values: Werkzeug need not check them again on every response, as ``response.headers.update`` would).
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


def refuse_posts_from_other_sites() -> None:
    """A post whose browser says it came from another site (``Origin``) is refused like a bad CSRF token.

    Only the host is compared: behind a proxy the scheme seen here may be http. A missing Origin, or "null"
    (some privacy settings), is left to the token.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("Origin", "")
    if origin and origin != "null" and urlsplit(origin).netloc.lower() != request.host.lower():
        raise CSRFError("The Origin header names another site.")


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
