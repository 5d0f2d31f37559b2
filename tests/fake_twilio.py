"""A local HTTP server that speaks the part of Twilio's REST API the app uses, and signed webhooks to the app.

It is a real server on a real socket: the app's adapter goes through the official ``twilio`` library and its
HTTP client to reach it (TWILIO_API_BASE). It checks the account's Basic auth and the form the way Twilio
does, answers like Twilio (201 with the message's JSON, or a 4xx error with a Twilio error code), and records
every message it accepted, in order.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f" * 32
CLINIC_NUMBER = "+14155550100"
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w{32})/Messages\.json$")


@dataclass
class Sent:
    """A message the fake Twilio accepted."""

    sid: str
    to: str
    body: str
    sender: str
    status_callback: str
    created: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class FakeTwilio:
    """The server's state: what it accepted, and hooks a test can set."""

    url: str = ""
    sent: list[Sent] = field(default_factory=list)
    refuse_to: set[str] = field(default_factory=set)  # numbers answered with error 21610 (replied STOP)
    before_accept: Callable[[int], None] | None = None  # called with the count so far, before recording
    answer_delay: float = 0.0  # seconds between accepting a message and answering (a slow network)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies_to(self, number: str) -> list[str]:
        """The texts accepted for ``number``, in order."""
        return [m.body for m in self.sent if m.to == number]


def _handler(state: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the numbers are in the request line

        def _answer(self, status: int, payload: Mapping[str, object]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: int, message: str) -> None:
            self._answer(status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                                  "status": status})

        def _authorised(self, path: str) -> bool:
            match = _PATH.match(path)
            if not match:
                self._error(404, 20404, "The requested resource was not found")
                return False
            expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            if match["sid"] != ACCOUNT_SID or self.headers.get("Authorization") != expected:
                self._error(401, 20003, "Authenticate")
                return False
            return True

        @staticmethod
        def _json(message: Sent) -> dict[str, object]:
            return {"sid": message.sid, "account_sid": ACCOUNT_SID, "to": message.to, "from": message.sender,
                    "body": message.body, "status": "queued", "num_segments": "1", "direction": "outbound-api",
                    "api_version": "2010-04-01", "date_created": format_datetime(message.created),
                    "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message.sid}.json"}

        def do_GET(self) -> None:
            """The message list, filtered by To (newest first), as Twilio pages it."""
            parts = urlsplit(self.path)
            if not self._authorised(parts.path):
                return
            to = parse_qs(parts.query).get("To", [""])[0]
            with state.lock:
                found = [self._json(m) for m in reversed(state.sent) if not to or m.to == to]
            self._answer(200, {"messages": found, "uri": parts.path, "first_page_uri": parts.path,
                               "next_page_uri": None, "previous_page_uri": None, "page": 0, "page_size": 50,
                               "start": 0, "end": max(len(found) - 1, 0)})

        def do_POST(self) -> None:
            if not self._authorised(self.path):
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            to, body = form.get("To", ""), form.get("Body", "")
            sender = form.get("From") or form.get("MessagingServiceSid") or ""
            if not _E164.match(to):
                return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
            if not body or not sender:
                return self._error(400, 21602, "Message body is required.")
            if to in state.refuse_to:
                return self._error(400, 21610, f"Attempt to send to unsubscribed recipient {to}")
            with state.lock:
                if state.before_accept is not None:
                    state.before_accept(len(state.sent))
                message = Sent("SM" + secrets.token_hex(16), to, body, sender, form.get("StatusCallback", ""))
                state.sent.append(message)
            time.sleep(state.answer_delay)
            self._answer(201, self._json(message))

    return Handler


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    """Run the fake Twilio on a free local port for the ``with`` block."""
    state = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def texting_config(twilio: FakeTwilio, **extra: object) -> dict[str, object]:
    """App settings that turn texting on against the fake Twilio."""
    return {"TEXT_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM": CLINIC_NUMBER, "TWILIO_API_BASE": twilio.url, **extra}


def signed_webhook(client: FlaskClient, public_base: str, path: str, form: Mapping[str, str],
                   token: str = AUTH_TOKEN) -> TestResponse:
    """POST ``form`` to the app's webhook as Twilio would: signed over the public URL with the account's token."""
    signature = RequestValidator(token).compute_signature(public_base.rstrip("/") + path, dict(form))
    return client.post(path, data=dict(form), headers={"X-Twilio-Signature": signature})


def patient_text(client: FlaskClient, public_base: str, sender: str, body: str) -> TestResponse:
    """A patient's text arriving at the inbound webhook."""
    return signed_webhook(client, public_base, "/webhooks/text/inbound",
                          {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": ACCOUNT_SID, "From": sender,
                           "To": CLINIC_NUMBER, "Body": body, "NumMedia": "0"})
