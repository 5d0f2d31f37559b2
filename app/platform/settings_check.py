"""Which settings are unsafe or wrong, each said in one line with what to set and how.

``create_app`` refuses to start on any fatal finding (in production every unsafe setting is fatal) and logs
the warnings; ``flask check-config`` prints the same findings for an operator before anything starts. The
checks read only the configuration mapping, so they are the same wherever they run.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.messaging.settings import parse_reminders
from app.scheduling.times import ScheduleError, parse_booking_settings
from app.security.crypto import KeyConfigError, Keyring

# The demo clinic's details (config.py's defaults): a production site showing them sends patients to a
# phone number that is not the clinic's.
DEMO_CLINIC_NAME = "Demo Spine & Pain Clinic"
DEMO_CLINIC_PHONE = "+1 415 555 0134"
MIN_SECRET_KEY_BYTES = 32
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
CODE_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Finding:
    """One problem with the settings: the setting's name and a sentence saying what to do."""

    setting: str
    message: str
    fatal: bool

    def __str__(self) -> str:
        return self.message


class ConfigurationError(RuntimeError):
    """The app refuses to start: one line per fatal finding."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        lines = "\n".join(f"  - {finding.message}" for finding in findings)
        super().__init__(f"unsafe or missing settings; the app will not start until they are fixed "
                         f"(`flask check-config` lists them):\n{lines}")


def check_settings(config: Mapping[str, Any], *, production: bool) -> list[Finding]:
    """Every finding for ``config``; in ``production`` the unsafe settings are fatal, elsewhere warnings."""
    return [*_always(config), *_unsafe(config, production)]


def _always(config: Mapping[str, Any]) -> Iterator[Finding]:
    if not config.get("SECRET_KEY"):
        yield Finding("SECRET_KEY", "SECRET_KEY must be set: it signs sessions and form tokens; generate one with "
                                    "`flask secret-key` and put it in the settings file", fatal=True)
    ca_file = str(config.get("MAIL_CA_FILE") or "")
    if ca_file and not Path(ca_file).is_file():
        yield Finding("MAIL_CA_FILE", f"MAIL_CA_FILE names {ca_file}, which is not a readable file: give the path "
                                      "of the PEM file of the mail server's certificate authority", fatal=True)


def _unsafe(config: Mapping[str, Any], production: bool) -> Iterator[Finding]:
    """Settings that are fine for trying the app out and unsafe for patients' data."""
    for setting, message, fatal_anywhere in _unsafe_findings(config, production):
        yield Finding(setting, message, fatal=production or fatal_anywhere)


def _unsafe_findings(config: Mapping[str, Any], production: bool) -> Iterator[tuple[str, str, bool]]:
    yield from _database(config, production)
    yield from _messaging(config, production)
    try:
        parse_booking_settings(config)
    except ScheduleError as exc:
        yield (exc.setting, str(exc), True)
    if production:
        yield from _production_only(config)
    workers = int(config.get("WEB_CONCURRENCY") or 1)
    if workers > 1 and str(config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://"):
        yield ("RATELIMIT_STORAGE_URI",
               f"RATELIMIT_STORAGE_URI is memory:// with WEB_CONCURRENCY={workers} workers: each worker keeps its own "
               f"counts, so every rate limit (patient posts, staff sign-in) is {workers} times what it says. "
               "Set RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 (see README, RATELIMIT_STORAGE_URI), "
               "or WEB_CONCURRENCY=1", False)


def _database(config: Mapping[str, Any], production: bool) -> Iterator[tuple[str, str, bool]]:
    url = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    if not url:
        yield ("DATABASE_URL", "DATABASE_URL is not set: name the production database, for example "
                               "DATABASE_URL=postgresql+psycopg://mild_app:PASSWORD@db.example.org/mild?sslmode="
                               "verify-full or sqlite:////var/lib/mild/mild.sqlite3 (deploy/README.md)", True)
        return
    try:
        parsed = make_url(url)
    except ArgumentError:
        yield ("DATABASE_URL", "DATABASE_URL is not a database URL; write it as "
                               "postgresql+psycopg://USER:PASSWORD@HOST/NAME (percent-encode special characters "
                               "in the password) or sqlite:////absolute/path/mild.sqlite3", True)
        return
    if production and parsed.get_backend_name() == "sqlite" and parsed.database:
        database = Path(parsed.database).absolute()
        if database.is_relative_to(CODE_DIR):
            yield ("DATABASE_URL", f"DATABASE_URL puts the database inside the code folder ({database}); keep data "
                                   "outside it, e.g. sqlite:////var/lib/mild/mild.sqlite3", True)


def _messaging(config: Mapping[str, Any], production: bool) -> Iterator[tuple[str, str, bool]]:
    """Texting's settings (README, Text messages): a wrong one would fail every text, or every reminder."""
    provider = str(config.get("TEXT_PROVIDER") or "")
    if provider not in ("", "twilio", "log"):
        yield ("TEXT_PROVIDER", f"TEXT_PROVIDER={provider} is not known: use twilio, or leave it empty to keep "
                                "texting off", True)
    if provider == "twilio":
        for name, example in (("TWILIO_ACCOUNT_SID", "AC..."), ("TWILIO_AUTH_TOKEN", "from the Twilio console"),
                              ("TWILIO_FROM", "+15035550100 or MG...")):
            if not config.get(name):
                yield (name, f"{name} must be set when TEXT_PROVIDER=twilio ({example})", True)
    if production and provider == "log":
        yield ("TEXT_PROVIDER", "TEXT_PROVIDER=log writes texts to nowhere: use twilio, or leave it empty", True)
    if production and config.get("TWILIO_API_BASE"):
        yield ("TWILIO_API_BASE", "TWILIO_API_BASE is for tests only (texts would not reach Twilio): unset it",
               True)
    try:
        parse_reminders(str(config.get("VISIT_REMINDERS") or ""))
    except ValueError as exc:
        yield ("VISIT_REMINDERS", str(exc), True)
    digest = str(config.get("OVERDUE_DIGEST_TIME") or "")
    try:
        time.fromisoformat(digest) if digest else None
    except ValueError:
        yield ("OVERDUE_DIGEST_TIME", f"OVERDUE_DIGEST_TIME={digest} is not a time of day: write it as 07:30", True)
    oncall = str(config.get("ONCALL_PHONE") or "")
    if oncall and not re.fullmatch(r"\+[1-9]\d{7,14}", oncall):
        yield ("ONCALL_PHONE", "ONCALL_PHONE must be a mobile number in international form, e.g. +15035550100", True)


def _production_only(config: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    yield from _public_base_url(str(config.get("PUBLIC_BASE_URL") or ""))
    secret = str(config.get("SECRET_KEY") or "")
    if secret and len(secret.encode()) < MIN_SECRET_KEY_BYTES:
        yield ("SECRET_KEY", f"SECRET_KEY is {len(secret.encode())} bytes; production needs at least "
                             f"{MIN_SECRET_KEY_BYTES} random bytes: generate one with `flask secret-key`", True)
    if str(config.get("CLINIC_NAME") or "") == DEMO_CLINIC_NAME:
        yield ("CLINIC_NAME", 'CLINIC_NAME is the demo clinic\'s: set it to your clinic\'s name, e.g. '
                              'CLINIC_NAME="Valley Spine Center"', True)
    if str(config.get("CLINIC_PHONE") or "") == DEMO_CLINIC_PHONE:
        yield ("CLINIC_PHONE", 'CLINIC_PHONE is the demo clinic\'s number: patients would call it. Set your '
                               'clinic\'s number, e.g. CLINIC_PHONE="+1 503 555 0100"', True)
    yield from _keys(config)
    if config.get("PASSWORD_HASH_PROFILE") == "CHEAPEST":
        yield ("PASSWORD_HASH_PROFILE", "PASSWORD_HASH_PROFILE=CHEAPEST is for tests only; unset it in production",
               True)
    if config.get("MAIL_INTAKE_ADDRESS") and not config.get("MAIL_SERVER"):
        # Otherwise intake emails would only be written to the log and marked sent.
        yield ("MAIL_SERVER", "MAIL_SERVER must be set when MAIL_INTAKE_ADDRESS is set in production "
                              "(docs: README, Email)", True)


def _public_base_url(base: str) -> Iterator[tuple[str, str, bool]]:
    how = "set PUBLIC_BASE_URL to the https:// address patients and staff use, e.g. https://screen.clinic.org"
    if not base:
        yield ("PUBLIC_BASE_URL", f"PUBLIC_BASE_URL is not set: {how}", True)
        return
    parts = urlsplit(base)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        yield ("PUBLIC_BASE_URL", f"PUBLIC_BASE_URL is {base}, not https: links in emails would travel in clear "
                                  f"text; {how}", True)
    if not host or host in LOOPBACK_NAMES or _is_loopback_address(host):
        yield ("PUBLIC_BASE_URL", f"PUBLIC_BASE_URL is {base}, which only this machine can reach: links in emails "
                                  f"would lead nowhere; {how}", True)


def _is_loopback_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _keys(config: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    from config import DEV_DATA_KEYS, DEV_INDEX_KEY

    data_keys, index_key = str(config.get("DATA_ENCRYPTION_KEYS") or ""), str(config.get("BLIND_INDEX_KEY") or "")
    if not data_keys or not index_key:
        yield ("DATA_ENCRYPTION_KEYS", "DATA_ENCRYPTION_KEYS and BLIND_INDEX_KEY must be set in production: make "
                                       "them with `flask keys new k1` and `flask keys new-index-key`", True)
        return
    if DEV_DATA_KEYS.split(":")[1] in data_keys or index_key == DEV_INDEX_KEY:
        yield ("DATA_ENCRYPTION_KEYS", "the development encryption keys must not be used in production: make new "
                                       "ones with `flask keys new k1` and `flask keys new-index-key`", True)
        return
    try:
        Keyring.from_specs(data_keys, index_key)
    except KeyConfigError as error:
        yield ("DATA_ENCRYPTION_KEYS", f"the encryption keys are unusable: {error}", True)


def settings_of(config_class: type) -> dict[str, Any]:
    """The upper-case settings of a configuration class, as ``app.config`` would hold them."""
    return {name: getattr(config_class, name) for name in dir(config_class) if name.isupper()}


def main() -> int:
    """``python -m app.platform.settings_check``: print the fatal findings for the environment's settings.

    gunicorn.conf.py runs it before starting, in a process of its own (the master must not import the app, or a
    graceful reload would keep the old settings). Exit status 1 when the app would refuse to start.
    """
    import sys

    from config import config_from_env

    config_class = config_from_env()
    settings = settings_of(config_class)
    fatal = [finding for finding in check_settings(settings, production=bool(settings.get("REFUSE_UNSAFE_SETTINGS")))
             if finding.fatal]
    if fatal:
        print(ConfigurationError(fatal), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
