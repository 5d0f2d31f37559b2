"""Security headers on every kind of response, and no inline script or style on any page we can reach."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.screening.questions import PAGES
from tests.answers import EVERY_PAGE_ANSWERS, answers_with
from tests.factories import login, make_staff, patient_request
from tests.journey import CONTACT, answer_all, csrf_token, see_result
from tests.patient_pages import LEARN_PAGES

EXPECTED_CSP = {
    "default-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
}
UNSAFE_SOURCES = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "http:", "https:"}


def csp_directives(response: TestResponse) -> dict[str, set[str]]:
    """The Content-Security-Policy header as {directive: sources}."""
    policy = response.headers["Content-Security-Policy"]
    directives: dict[str, set[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} given twice"
        directives[name] = set(sources)
    return directives


def assert_secure_headers(response: TestResponse) -> None:
    """The headers every response carries, whatever it is."""
    directives = csp_directives(response)
    assert directives == EXPECTED_CSP
    for sources in directives.values():
        assert not sources & UNSAFE_SOURCES
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", f"/questions/{PAGES[0].slug}", 200),
        ("GET", "/session-ended", 200),
        ("GET", "/result", 303),
        ("GET", "/static/site.css", 200),
        ("GET", "/static/no-such-file.css", 404),
        ("GET", "/no-such-page", 404),
        ("GET", "/questions/no-such-question", 404),
        ("POST", "/", 405),
        ("POST", f"/questions/{PAGES[0].slug}", 400),  # no CSRF token
        ("GET", "/staff/login", 200),
        ("GET", "/staff/requests", 302),
    ],
)
def test_every_kind_of_response_has_the_security_headers(client: FlaskClient, method: str, path: str,
                                                         status: int) -> None:
    with client.open(path, method=method) as response:  # closing releases a static file's handle
        assert response.status_code == status
        assert_secure_headers(response)


@pytest.mark.parametrize("path", ["/no-such-page", "/static/no-such-file.css", "/", "/staff/login"])
def test_error_pages_and_pages_are_never_cached(client: FlaskClient, path: str) -> None:
    with client.get(path) as response:
        assert response.headers["Cache-Control"] == "no-store"


def test_bad_request_page_is_never_cached(client: FlaskClient) -> None:
    response = client.post(f"/questions/{PAGES[0].slug}", data={"red_flags": "none"})
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_keep_their_own_caching(client: FlaskClient) -> None:
    with client.get("/static/site.css") as response:
        assert response.headers["Cache-Control"] != "no-store"


def test_security_headers_on_a_posted_step(client: FlaskClient) -> None:
    response = answer_all(client, answers_with())
    assert response.status_code == 303
    assert_secure_headers(response)


@pytest.mark.parametrize("path", ["/", "/static/site.css", "/no-such-page", "/staff/login"])
def test_hsts_only_over_https(client: FlaskClient, path: str) -> None:
    with client.get(path, base_url="https://localhost") as secure, client.get(path) as plain:
        assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert "Strict-Transport-Security" not in plain.headers


class InlineCodeFinder(HTMLParser):
    """Collects whatever the CSP would block: inline scripts, style elements and attributes, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        if "style" in names:
            self.found.append(f"style attribute on <{tag}>")
        self.found.extend(f"{name} handler on <{tag}>" for name in names if name.startswith("on"))
        self.found.extend(f"javascript: URL on <{tag}>" for _, value in attrs
                          if value and value.strip().lower().startswith("javascript:"))


def inline_code(html: str) -> list[str]:
    """Everything on the page that a strict CSP would refuse to run or apply."""
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.found


def test_the_finder_finds_inline_code() -> None:
    html = '<script>x()</script><p style="color:red" onclick="y()"><a href="javascript:z()">z</a></p>'
    assert len(inline_code(html)) == 4


def _collect(pages: dict[str, str], client: FlaskClient, path: str) -> None:
    response = client.get(path)
    if response.status_code == 200 and response.mimetype == "text/html":
        pages[path] = response.text


def test_no_patient_page_has_inline_code(app: Flask, client: FlaskClient) -> None:
    pages: dict[str, str] = {}
    _collect(pages, client, "/")
    first = f"/questions/{PAGES[0].slug}"
    pages["question with errors"] = client.post(first, data={"csrf_token": csrf_token(client.get(first).text)}).text
    see_result(client, EVERY_PAGE_ANSWERS)
    for page in PAGES:
        _collect(pages, client, f"/questions/{page.slug}")
    for path in ("/check-your-answers", "/result", "/get-help-now", "/request", "/no-such-page"):
        _collect(pages, client, path)
    token = csrf_token(pages["/request"])
    pages["request with errors"] = client.post("/request", data={"csrf_token": token}).text
    client.post("/request", data={"csrf_token": token, **CONTACT})
    _collect(pages, client, "/request/check")
    client.post("/request/check", data={"csrf_token": token})
    _collect(pages, client, "/request/sent")
    _collect(pages, app.test_client(), "/session-ended")
    for path in LEARN_PAGES.values():
        _collect(pages, app.test_client(), path)
    assert len(pages) >= len(PAGES) + 9 + len(LEARN_PAGES)
    assert {path: inline_code(html) for path, html in pages.items() if inline_code(html)} == {}


def test_no_staff_page_has_inline_code(app: Flask, client: FlaskClient) -> None:
    reference = patient_request(app)
    pages: dict[str, str] = {}
    _collect(pages, client, "/staff/login")
    login(client, make_staff(app, "admin"))
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("staff.") or "GET" not in (rule.methods or ()):
            continue
        if set(rule.arguments) <= {"reference"}:
            with app.test_request_context():
                path = app.url_for(rule.endpoint, reference=reference) if rule.arguments else app.url_for(rule.endpoint)
            _collect(pages, client, path)
    assert {"/staff/login", "/staff/requests", f"/staff/requests/{reference}"} <= set(pages)
    assert {path: inline_code(html) for path, html in pages.items() if inline_code(html)} == {}


def test_proxy_headers_are_trusted_only_when_configured(make_app: Any) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    response = make_app().test_client().get("/", headers=spoofed)
    assert "Strict-Transport-Security" not in response.headers  # a client cannot claim HTTPS
    proxied = make_app(TRUSTED_PROXY_COUNT=1)
    response = proxied.test_client().get("/", headers=spoofed)
    assert "Strict-Transport-Security" in response.headers


def test_each_security_header_is_sent_once_and_a_views_own_value_stands(make_app: Any) -> None:
    app = make_app()

    @app.get("/header-probe")
    def probe() -> tuple[str, dict[str, str]]:
        return "ok", {"Referrer-Policy": "no-referrer", "x-frame-options": "SAMEORIGIN"}

    client = app.test_client()
    for path in ("/header-probe", "/", "/no-such-page", "/static/site.css"):
        with client.get(path) as response:
            names = [name.lower() for name, _ in response.headers.items()]
            for header in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
                           "Cross-Origin-Opener-Policy", "Permissions-Policy", "X-Frame-Options"):
                assert names.count(header.lower()) == 1, (path, header)
    probed = client.get("/header-probe")
    assert probed.headers["Referrer-Policy"] == "no-referrer" and probed.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'none'" in probed.headers["Content-Security-Policy"]
