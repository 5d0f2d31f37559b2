"""One simulated patient: walks the whole patient flow over HTTP like a browser, retrying like a person.

Standard library only (``http.client``), one cookie jar per patient. The walk is driven by the server's
own redirects, the way a browser follows them: start page, each question page the server asks for (GET
for the CSRF token, then POST), check your answers, the result, the contact form, check your details,
send, and the confirmation page with the reference.

When the server is down or a request fails (connection refused or reset, a 5xx), the patient retries
*that same request* with the same cookies, as someone pressing refresh or "resubmit" would; the app
answers a repeated send of the same screening with the reference it already stored. Only when the
server says the draft has gone (``/session-ended``, or a page that needs answers the server does not
have) does the walk go on from wherever the server sends it, which may mean starting over.
"""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from app.screening.questions import PAGES

# The spec's section 5 base case (rule set 2026.1): every criterion met, both conditional pages shown.
ANSWERS: dict[str, Any] = {
    "red_flags": ["none"],
    "leg_symptoms": "both_sides",
    "worse_standing_walking": "yes",
    "relief_sitting_bending": "yes",
    "pain_when_seated": "no",
    "walking_limit": "5_to_15_min",
    "main_pain": "legs",
    "symptom_duration": "over_12_months",
    "pain_score": 7,
    "age": 72,
    "tried_pt": "yes_no_lasting_relief",
    "tried_injections": "yes_no_lasting_relief",
    "tried_medications": "yes_helped",
    "conservative_duration": "3_months_or_more",
    "prior_back_surgery": "no",
    "had_mri": "yes_last_12_months",
    "mri_findings": ["stenosis", "thick_ligament"],
    "blood_thinners": ["none"],
    "bleeding_disorder": "no",
    "can_lie_prone": "yes",
    "sedation_problems": "no",
    "vascular_disease": "no",
}
PAGE_FIELDS: dict[str, tuple[str, ...]] = {page.slug: page.fields for page in PAGES}
MARKER_PREFIX = "load-marker:"
MARKER_PATTERN = re.compile(r"load-marker:(\S+)")
CSRF_PATTERN = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
REFERENCE_PATTERN = re.compile(r'class="reference">\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*<')
# Every request of a walk: more than this many steps means the walk is going round in circles.
MAX_STEPS = 200
# A server that answers the same request with a 5xx this often is broken, not restarting: give up.
MAX_SERVER_ERRORS = 3


def contact_form(marker: str, number: int) -> dict[str, str]:
    """The contact details a patient types; the marker goes in the free-text message."""
    return {
        "first_name": "Load",
        "last_name": f"Patient{number}",
        "date_of_birth-day": "3",
        "date_of_birth-month": "4",
        "date_of_birth-year": "1954",  # 72, as answered
        "phone": f"(415) 555-01{number % 100:02d}",  # the fictional 555-01xx range
        "email": "",
        "preferred_contact": "phone",
        "best_time": "morning",
        "preferred_language": "en",
        "insurance": "medicare",
        "voicemail": "yes",
        "message": f"Please call after 10. {MARKER_PREFIX}{marker}",
        "consent_contact": "y",
    }


def page_form(slug: str, answers: Mapping[str, Any] = ANSWERS) -> dict[str, Any]:
    """What a browser sends for question page ``slug`` (numbers as typed text, lists as repeated fields)."""
    data: dict[str, Any] = {}
    for name in PAGE_FIELDS[slug]:
        value = answers.get(name)
        if value is not None:
            data[name] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return data


@dataclass
class Response:
    """What one HTTP exchange returned."""

    status: int
    location: str | None
    body: str


@dataclass
class ClientStats:
    """Counts kept by one patient (or summed over all of them)."""

    requests: int = 0
    connection_errors: int = 0
    retries: int = 0
    server_errors: int = 0  # 5xx responses
    status_counts: Counter[int] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)  # e.g. "400 POST /request/check"
    restarts: int = 0  # walks that went back to the start (draft gone)

    def add(self, other: ClientStats) -> None:
        """Add another patient's counts to these."""
        self.requests += other.requests
        self.connection_errors += other.connection_errors
        self.retries += other.retries
        self.server_errors += other.server_errors
        self.status_counts.update(other.status_counts)
        self.unexpected.update(other.unexpected)
        self.restarts += other.restarts


class GaveUp(Exception):
    """The patient could not finish within the time allowed (the server stayed down, or the walk looped)."""


class PatientClient:
    """A browser-like HTTP client with its own cookies, retrying a failed request until ``give_up_after``."""

    def __init__(self, base_url: str, timeout: float = 60.0, give_up_after: float = 180.0,
                 pause: Callable[[float], None] = time.sleep) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self.give_up_after = give_up_after
        self.pause = pause
        self.cookies: dict[str, str] = {}
        self.stats = ClientStats()

    # -- HTTP ------------------------------------------------------------------------------------------

    def request(self, method: str, path: str, form: Mapping[str, Any] | None = None) -> Response:
        """Send one request; on a connection error or a 5xx, send the same request again (same cookies).

        Returns the first answer that is not a 5xx. Raises GaveUp after ``give_up_after`` seconds of failures
        or more than ``MAX_SERVER_ERRORS`` 5xx answers.
        """
        deadline = time.monotonic() + self.give_up_after
        delay = 0.05
        server_errors = 0
        while True:
            try:
                response = self._send(method, path, form)
            except (OSError, http.client.HTTPException):
                self.stats.connection_errors += 1
            else:
                if response.status < 500:
                    return response
                self.stats.server_errors += 1
                server_errors += 1
            if time.monotonic() > deadline or server_errors > MAX_SERVER_ERRORS:
                raise GaveUp(f"{method} {path} kept failing")
            self.stats.retries += 1
            self.pause(delay)
            delay = min(delay * 2, 1.0)

    def _send(self, method: str, path: str, form: Mapping[str, Any] | None) -> Response:
        headers = {"Host": f"{self.host}:{self.port}", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.stats.requests += 1
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            text = raw.read().decode("utf-8", errors="replace")
            # Cookies are kept only once the whole answer has arrived, as a browser does.
            for header in raw.headers.get_all("Set-Cookie") or []:
                self._keep_cookie(header)
        finally:
            connection.close()
        self.stats.status_counts[raw.status] += 1
        location = raw.headers.get("Location")
        if location:  # absolute or relative: keep the path and query on this server
            parts = urllib.parse.urlsplit(location)
            location = parts.path + (f"?{parts.query}" if parts.query else "")
        return Response(raw.status, location, text)

    def _keep_cookie(self, header: str) -> None:
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            expired = morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"])
            if expired or morsel.value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    # -- the patient flow ------------------------------------------------------------------------------

    def submit(self, marker: str, number: int) -> str:
        """Walk the whole flow and send a request carrying ``marker``; return the reference shown.

        Raises GaveUp when it cannot finish.
        """
        contact = contact_form(marker, number)
        response = self.request("GET", "/")
        self._expect(response, 200, "GET /")
        path = f"/questions/{PAGES[0].slug}"
        for _ in range(MAX_STEPS):
            page = self.request("GET", path)
            if page.status in (301, 302, 303):
                path = self._next(page, path)
                continue
            if page.status != 200:
                self._unexpected(page, "GET", path)
                path = self._restart()
                continue
            if path == "/request/sent":
                match = REFERENCE_PATTERN.search(page.body)
                if match:
                    return match.group(1)
                self._unexpected(page, "GET", path)
                path = self._restart()
                continue
            form = self._form_for(path, contact)
            if form is None:  # the start page or the result: go on to the next page as a patient would
                path = "/request" if path == "/result" else f"/questions/{PAGES[0].slug}"
                continue
            token = CSRF_PATTERN.search(page.body)
            if token is None:
                self._unexpected(page, "GET", path)
                path = self._restart()
                continue
            posted = self.request("POST", path, {"csrf_token": token.group(1), **form})
            if posted.status in (301, 302, 303):
                path = self._next(posted, path)
            else:  # a form shown again with errors, a refused token: look at the page again
                self._unexpected(posted, "POST", path)
        raise GaveUp(f"no confirmation after {MAX_STEPS} steps")

    def _form_for(self, path: str, contact: Mapping[str, str]) -> dict[str, Any] | None:
        if path.startswith("/questions/"):
            return page_form(path.removeprefix("/questions/").split("?")[0])
        if path in ("/check-your-answers", "/request/check"):
            return {}
        if path == "/request":
            return dict(contact)
        return None

    def _next(self, response: Response, path: str) -> str:
        location = response.location or "/"
        if location == "/get-help-now":  # not with these answers; treat like any unexpected turn
            self._unexpected(response, "->", location)
        if location in ("/session-ended", "/"):
            return self._restart()
        return location

    def _restart(self) -> str:
        """The draft is gone (or the walk went wrong): begin again with new cookies, like a new tab."""
        self.stats.restarts += 1
        self.cookies.clear()
        return f"/questions/{PAGES[0].slug}"

    def _expect(self, response: Response, status: int, what: str) -> None:
        if response.status != status:
            self._unexpected(response, *what.split(" ", 1))

    def _unexpected(self, response: Response, method: str, path: str) -> None:
        self.stats.unexpected[f"{response.status} {method} {path.split('?')[0]}"] += 1
