"""The text message provider: send a text, check and read a webhook, read a delivery status. No Flask.

``TextProvider`` is what the rest of the app uses; ``TwilioProvider`` speaks Twilio's API through the official
``twilio`` library. Texting is off unless TEXT_PROVIDER names a provider (config.py).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

logger = logging.getLogger("app.messaging.texting")
# twilio's HTTP client logs each request's form (the patient's number and the text) at INFO: never let it.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

TWILIO_API = "https://api.twilio.com"
# Delivery states a provider reports; "undelivered" and "failed" mean the text did not reach the phone.
FINAL_FAILURES = frozenset({"undelivered", "failed"})
OPTED_OUT_ERROR = "21610"  # Twilio: the number replied STOP to this sender


class TextSendError(RuntimeError):
    """The provider refused or could not take the text; the message holds no number and no text."""


@dataclass(frozen=True)
class Inbound:
    """A text a patient sent: the provider's id for it, the sender's number (E.164) and the words."""

    provider_id: str
    sender: str
    body: str


@dataclass(frozen=True)
class DeliveryStatus:
    """A provider's report on a text the app sent."""

    provider_id: str
    status: str
    error_code: str | None


class TextProvider(Protocol):
    """What the app needs from a text message provider."""

    def send(self, to: str, body: str) -> str:
        """Hand the text to the provider; return its id for the message. Raises ``TextSendError``."""

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """The id of a text with this body the provider took for ``to`` since ``since``, if any.

        Asked before sending again a text whose worker died mid-send, so the patient does not get it twice.
        """

    def is_genuine(self, url: str, form: Mapping[str, str], signature: str) -> bool:
        """Whether a webhook request really comes from the provider (its signature over the URL and form)."""

    def inbound(self, form: Mapping[str, str]) -> Inbound:
        """The text a patient sent, from the inbound webhook's form. Raises ``ValueError`` when a field is missing."""

    def status(self, form: Mapping[str, str]) -> DeliveryStatus:
        """The delivery report from the status webhook's form. Raises ``ValueError`` when a field is missing."""


class _ApiBaseClient(TwilioHttpClient):
    """Twilio's own HTTP client with another address for its API (a local server speaking it, in tests).

    A custom HTTP client is Twilio's documented way to change how the library makes requests.
    """

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.api_base = api_base.rstrip("/")

    def request(self, method: str, url: str, *args: object, **kwargs: object) -> Response:  # type: ignore[override]
        if url.startswith(TWILIO_API):
            url = self.api_base + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]


@dataclass
class TwilioProvider:
    """Twilio Programmable Messaging: sends from a number or a Messaging Service, checks X-Twilio-Signature."""

    account_sid: str
    auth_token: str
    sender: str  # +15551234567, or a Messaging Service SID (MG...)
    status_callback: str = ""  # the public URL of the status webhook; empty = no delivery reports
    api_base: str = ""  # empty = Twilio itself
    timeout: float = 10.0

    def __post_init__(self) -> None:
        http_client = _ApiBaseClient(self.api_base, self.timeout) if self.api_base else TwilioHttpClient(
            timeout=self.timeout)
        self._client = Client(self.account_sid, self.auth_token, http_client=http_client)
        self._validator = RequestValidator(self.auth_token)

    def send(self, to: str, body: str) -> str:
        """Create the message through the REST API; its SID is the provider id."""
        sender = ({"messaging_service_sid": self.sender} if self.sender.startswith("MG") else {"from_": self.sender})
        extra = {"status_callback": self.status_callback} if self.status_callback else {}
        try:
            message = self._client.messages.create(to=to, body=body, **sender, **extra)  # type: ignore[arg-type]
        except TwilioRestException as exc:
            # Twilio's message can quote the number; keep only its code and the HTTP status.
            raise TextSendError(f"Twilio refused the text: error {exc.code} (HTTP {exc.status})") from None
        except (TwilioException, OSError) as exc:
            raise TextSendError(f"Could not reach Twilio: {type(exc).__name__}") from None
        return str(message.sid)

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """Look through the newest messages to ``to`` (Twilio lists newest first) for this body."""
        try:
            for message in self._client.messages.list(to=to, limit=50):
                created = message.date_created
                if message.body == body and (created is None or created >= since):
                    return str(message.sid)
        except TwilioRestException as exc:
            raise TextSendError(f"Twilio refused the look-up: error {exc.code} (HTTP {exc.status})") from None
        except (TwilioException, OSError) as exc:
            raise TextSendError(f"Could not reach Twilio: {type(exc).__name__}") from None
        return None

    def is_genuine(self, url: str, form: Mapping[str, str], signature: str) -> bool:
        """Twilio's HMAC-SHA1 signature of the full public URL and the sorted form fields."""
        return bool(signature) and bool(self._validator.validate(url, dict(form), signature))

    def inbound(self, form: Mapping[str, str]) -> Inbound:
        """MessageSid, From and Body of Twilio's incoming-message webhook."""
        try:
            return Inbound(form["MessageSid"], form["From"], form.get("Body", ""))
        except KeyError as exc:
            raise ValueError(f"missing {exc.args[0]}") from None

    def status(self, form: Mapping[str, str]) -> DeliveryStatus:
        """MessageSid, MessageStatus and ErrorCode of Twilio's status callback."""
        try:
            return DeliveryStatus(form["MessageSid"], form["MessageStatus"], form.get("ErrorCode") or None)
        except KeyError as exc:
            raise ValueError(f"missing {exc.args[0]}") from None


@dataclass
class LogTextProvider:
    """Development stand-in when texting is on without a provider account: writes a line per text, never the text."""

    def send(self, to: str, body: str) -> str:
        """Log that a text would be sent (its length only) and make up an id."""
        logger.warning("TEXT_PROVIDER is 'log': a text of %d characters was written here, not sent.", len(body))
        return "LOG" + secrets.token_hex(16)

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """Nothing was really sent, so nothing is found."""
        return None

    def is_genuine(self, url: str, form: Mapping[str, str], signature: str) -> bool:
        """No provider, so no webhook is genuine."""
        return False

    def inbound(self, form: Mapping[str, str]) -> Inbound:
        """Never called: no webhook passes ``is_genuine``."""
        raise ValueError("no provider")

    def status(self, form: Mapping[str, str]) -> DeliveryStatus:
        """Never called: no webhook passes ``is_genuine``."""
        raise ValueError("no provider")
