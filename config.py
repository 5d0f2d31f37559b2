"""Application configuration, read from environment variables.

Pick a class with ``FLASK_CONFIG`` (``development``, ``testing`` or ``production``); every value can be
overridden by the environment variable of the same name.

``MILD_ENV_FILE`` names a settings file (``KEY=value`` lines; deploy/mild.env.example has the quoting rules). It
is read here, before any value, and wins over the process environment, so the web server, every ``flask``
command and a graceful reload all see the file as it is now.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent

if os.environ.get("MILD_ENV_FILE", "").strip():
    _settings_file = Path(os.environ["MILD_ENV_FILE"].strip())
    if not _settings_file.is_file():
        raise SystemExit(f"MILD_ENV_FILE names {_settings_file}, which is not a readable file")
    load_dotenv(_settings_file, override=True, interpolate=False)  # no ${...} expansion: a password stays as written


def _env(name: str, default: str) -> str:
    """Return the environment variable ``name``, or ``default`` when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or default


def _env_flag(name: str, default: bool) -> bool:
    """Return the environment variable ``name`` read as a yes/no flag (1/true/yes/on), or ``default``."""
    value = os.environ.get(name, "").strip().lower()
    return value in {"1", "true", "yes", "on"} if value else default


# Where the app writes (the development database, lock files): never inside the code, which production keeps
# read-only and owned by root.
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", "").strip() or BASE_DIR / "instance").absolute()


class SecurityConfig:
    """Security and privacy settings (issue 4); mixed into Config below."""

    # Patient contact details are encrypted under these keys ("id:base64-32-bytes", newest first).
    # They live outside the database; production has no default and refuses to start without them.
    DATA_ENCRYPTION_KEYS = os.environ.get("DATA_ENCRYPTION_KEYS", "")
    # A separate key for the keyed hashes (blind indexes) that make exact-match search work; it does
    # not rotate with the data keys, or every index would have to be recomputed.
    BLIND_INDEX_KEY = os.environ.get("BLIND_INDEX_KEY", "")
    # The staff console has its own session cookie, separate from the patient's draft cookie.
    STAFF_SESSION_COOKIE_NAME = _env("STAFF_SESSION_COOKIE_NAME", "mild_staff")
    # HIPAA automatic logoff: a staff session ends after 15 minutes idle and after 12 hours in any case.
    STAFF_IDLE_TIMEOUT = timedelta(minutes=int(_env("STAFF_IDLE_TIMEOUT_MINUTES", "15")))
    STAFF_ABSOLUTE_TIMEOUT = timedelta(hours=int(_env("STAFF_ABSOLUTE_TIMEOUT_HOURS", "12")))
    # Two-factor sign-in for every staff account (on by default in production).
    STAFF_REQUIRE_2FA = _env_flag("STAFF_REQUIRE_2FA", False)
    # Per-account throttling: this many failures inside the window make the account wait.
    LOGIN_MAX_FAILURES = int(_env("LOGIN_MAX_FAILURES", "5"))
    LOGIN_FAILURE_WINDOW = timedelta(minutes=int(_env("LOGIN_FAILURE_WINDOW_MINUTES", "15")))
    # Rate limits (Flask-Limiter). memory:// holds per process; use redis:// with several workers.
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    # If the shared store (redis) is unreachable, a patient must still be able to send a request:
    # limits fall back to per-process memory instead of failing the request with a 500.
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_STORAGE_OPTIONS: ClassVar[dict[str, object]] = {"socket_connect_timeout": 1, "socket_timeout": 1}
    # Several clinics may share one redis: keep this app's counters apart.
    RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "mild")
    RATELIMIT_HEADERS_ENABLED = False  # do not advertise limits to bots
    RATELIMIT_PUBLIC_POST = _env("RATELIMIT_PUBLIC_POST", "60 per minute;600 per hour")
    RATELIMIT_LOGIN = _env("RATELIMIT_LOGIN", "20 per 15 minutes")
    # A human takes longer than this to fill in the contact form; faster posts are bots.
    FORM_MIN_SECONDS = float(_env("FORM_MIN_SECONDS", "3"))
    # One client cannot fill the queue: requests sent per address (the final send; a rate limit) and per phone
    # number in a window (counted in the database). Past either, the patient is asked to call the clinic.
    # REQUESTS_PER_PHONE=0 switches the phone count off.
    RATELIMIT_REQUEST_SEND = _env("RATELIMIT_REQUEST_SEND", "10 per day")
    REQUESTS_PER_PHONE = int(_env("REQUESTS_PER_PHONE", "3"))
    REQUESTS_PER_PHONE_HOURS = int(_env("REQUESTS_PER_PHONE_HOURS", "24"))
    # Request size: the largest legitimate form has about 20 fields.
    MAX_FORM_PARTS = 200
    MAX_FORM_MEMORY_SIZE = 64 * 1024
    # How many reverse proxies (TLS terminators) sit in front of the app. Their X-Forwarded-For and
    # -Proto are trusted only then: client IPs for rate limits and audit, HTTPS for HSTS and cookies.
    TRUSTED_PROXY_COUNT = int(_env("TRUSTED_PROXY_COUNT", "0"))
    # Retention (flask purge).
    SCREENING_RETENTION_DAYS = int(_env("SCREENING_RETENTION_DAYS", "730"))
    REQUEST_RETENTION_DAYS = int(_env("REQUEST_RETENTION_DAYS", "2555"))


class Config(SecurityConfig):
    """Settings shared by every environment (security settings come from SecurityConfig)."""

    SECRET_KEY = os.environ.get("SECRET_KEY")
    # No default: production names its database (a missing DATABASE_URL stops it at start); development and
    # `make run` use their own file, so trial data never lands in a production database.
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", "")
    # PostgreSQL with two roles (deploy/README.md): the owner's URL, used only by `flask db upgrade` and
    # `flask restore`; DATABASE_URL is then the runtime role's, which cannot alter tables or the audit trigger.
    MIGRATION_DATABASE_URL = _env("MIGRATION_DATABASE_URL", "")
    INSTANCE_PATH = str(INSTANCE_DIR)
    # hide_parameters: SQL errors and echo logs never show bound values (health answers, hashes).
    # pool_pre_ping is added by create_app: on for PostgreSQL (a restarted server or a failover ends pooled
    # connections), off for SQLite (a file in this process: nothing outside can end its connections).
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict[str, object]] = {"hide_parameters": True}

    # argon2 parameters for staff passwords, by name in argon2.profiles: the library's default, RFC 9106's
    # low-memory profile. Production refuses CHEAPEST, which the tests use to stay quick.
    PASSWORD_HASH_PROFILE = _env("PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY")

    # CSRF tokens must outlive the slowest patient: the draft itself lasts 2 hours idle, so the
    # token is tied to the session rather than to a short timer (None = valid for the session).
    WTF_CSRF_TIME_LIMIT = None
    # Over HTTPS Flask-WTF would also demand a Referer header from the same site, and turn away every patient
    # whose browser or privacy setting sends none. The token (tied to the session cookie, which is SameSite=Lax
    # and __Host- in production) is the protection; app/web/security.py also refuses a post whose Origin header
    # names another site.
    WTF_CSRF_SSL_STRICT = False
    # The draft cookie is only an id; it expires with the browser session and the server-side
    # draft expires after DRAFT_IDLE_TIMEOUT without activity.
    DRAFT_IDLE_TIMEOUT = timedelta(hours=2)
    # JavaScript never needs to read the cookie.
    SESSION_COOKIE_HTTPONLY = True
    # Lax keeps the cookie on top-level navigation from the clinic's own site but not on
    # cross-site POSTs.
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "mild_draft"
    # Bounded request bodies: the largest legitimate form is the contact form (~2 KB). The document upload is
    # the one exception (app/web/uploads.py): up to twice DOCUMENT_MAX_BYTES, so a file somewhat too big is
    # answered on the page with the limit rather than by the 413 page.
    MAX_CONTENT_LENGTH = 64 * 1024
    # A document a patient sends (a scan report, an insurance card photo): at most this many megabytes.
    DOCUMENT_MAX_BYTES = int(_env("DOCUMENT_MAX_MB", "10")) * 1024 * 1024
    # How many days a link staff send a patient (to send documents) keeps working.
    PATIENT_LINK_DAYS = int(_env("PATIENT_LINK_DAYS", "7"))
    # Consultation times (README, Booking consultations). Who may book: staff (staff only), link (staff, and
    # patients through a link staff send) or after_request (also a patient right after sending a request whose
    # category is listed in BOOKING_AFTER_REQUEST_CATEGORIES, e.g. likely,possible).
    BOOKING_BY = _env("BOOKING_BY", "link")
    BOOKING_AFTER_REQUEST_CATEGORIES = _env("BOOKING_AFTER_REQUEST_CATEGORIES", "")
    BOOKING_DAYS_AHEAD = _env("BOOKING_DAYS_AHEAD", "28")  # times are offered this many days ahead
    BOOKING_NOTICE_HOURS = _env("BOOKING_NOTICE_HOURS", "24")  # a patient books at least this long before
    BOOKING_LINK_DAYS = _env("BOOKING_LINK_DAYS", "7")  # a booking link expires after this many days

    # The clinic is configuration, not code. Defaults describe a demo clinic.
    CLINIC_NAME = _env("CLINIC_NAME", "Demo Spine & Pain Clinic")
    CLINIC_PHONE = _env("CLINIC_PHONE", "+1 415 555 0134")
    CLINIC_ADDRESS = _env("CLINIC_ADDRESS", "100 Example Street, Suite 200, San Francisco, CA 94105")
    CLINIC_HOURS = _env("CLINIC_HOURS", "Monday to Friday, 8am to 5pm")
    # The opening hours as Spanish pages show them. Unset: the demo clinic's hours in Spanish when
    # CLINIC_HOURS is the default too; otherwise Spanish pages leave the hours out rather than show
    # English (the app logs a warning at start).
    CLINIC_HOURS_ES = _env(
        "CLINIC_HOURS_ES",
        "" if os.environ.get("CLINIC_HOURS", "").strip() else "de lunes a viernes, de 8 a. m. a 5 p. m.",
    )
    CLINIC_TIMEZONE = _env("CLINIC_TIMEZONE", "America/Los_Angeles")
    CLINIC_PHONE_REGION = _env("CLINIC_PHONE_REGION", "US")
    # The order of the date-of-birth boxes and of dates written out: MDY (US, the default) or DMY.
    CLINIC_DATE_ORDER = _env("CLINIC_DATE_ORDER", "MDY")
    CLINIC_EMERGENCY_NUMBER = _env("CLINIC_EMERGENCY_NUMBER", "911")
    # The clinic's own Notice of Privacy Practices: when set, every patient page's privacy link goes there
    # instead of this app's privacy page (/privacy).
    CLINIC_PRIVACY_URL = _env("CLINIC_PRIVACY_URL", "")
    # A folder with the clinic's own en.toml and es.toml (procedure-day and aftercare instructions);
    # empty = the shipped defaults in app/platform/content/, which say "the clinic will tell you".
    CLINIC_CONTENT_DIR = _env("CLINIC_CONTENT_DIR", "")
    # Promised on the confirmation page: how soon the front desk calls back.
    CLINIC_CALLBACK_DAYS = int(_env("CLINIC_CALLBACK_DAYS", "2"))
    # When the front desk works, for the queue's due times: the promise above counts only these days and
    # hours (clinic time zone). Closed dates (holidays) are ISO dates separated by spaces or commas.
    CLINIC_WORKING_DAYS = _env("CLINIC_WORKING_DAYS", "Mon-Fri")
    CLINIC_WORKING_HOURS = _env("CLINIC_WORKING_HOURS", "08:00-17:00")
    CLINIC_CLOSED_DATES = _env("CLINIC_CLOSED_DATES", "")
    # Who hears at once about an emergency request: an email through the outbox with the reference and a
    # link only. Empty = no alert (the app warns at start in production).
    ONCALL_EMAIL = _env("ONCALL_EMAIL", "")

    # Email notices of new requests (app/casework/notify.py). Empty intake address = no email is queued.
    # The email carries only reference, category and a link, so it may pass through ordinary mail.
    MAIL_INTAKE_ADDRESS = _env("MAIL_INTAKE_ADDRESS", "")
    MAIL_FROM = _env("MAIL_FROM", "mild-self-screen@localhost")
    # Empty = development: emails are written to the log instead of being sent.
    MAIL_SERVER = _env("MAIL_SERVER", "")
    MAIL_PORT = int(_env("MAIL_PORT", "25"))
    MAIL_USERNAME = _env("MAIL_USERNAME", "")
    # From the environment only, never a default in code.
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    # Off suits a relay on localhost; turn it on for any relay across a network. Credentials are
    # refused without it, so a password is never sent in clear text.
    MAIL_USE_STARTTLS = _env_flag("MAIL_USE_STARTTLS", False)
    # A PEM file of the certificate authorities the mail server's certificate is checked against (a clinic's
    # private CA); empty = the system's trusted authorities.
    MAIL_CA_FILE = _env("MAIL_CA_FILE", "")
    # Seconds per SMTP step: a dead mail server must not hold a worker thread for long.
    MAIL_TIMEOUT = float(_env("MAIL_TIMEOUT", "10"))
    # After this many failed attempts (about 2 hours of backoff at 8) a message is marked failed.
    MAIL_MAX_ATTEMPTS = int(_env("MAIL_MAX_ATTEMPTS", "8"))
    # Try sending right after a request is stored, in a background thread; the outbox command
    # (run by cron or a timer) does the retries either way.
    MAIL_DELIVER_IN_BACKGROUND = _env_flag("MAIL_DELIVER_IN_BACKGROUND", True)
    # Text messages (issue 24, README "Text messages"). Empty = texting off: no texts are queued and the
    # contact form does not ask for permission to text. "twilio" = Twilio's API with the settings below
    # (the auth token from the environment only); "log" = development, texts are counted in the log, not sent.
    TEXT_PROVIDER = _env("TEXT_PROVIDER", "")
    TWILIO_ACCOUNT_SID = _env("TWILIO_ACCOUNT_SID", "")
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
    # The clinic's texting number (+15551234567) or a Messaging Service SID (MG...).
    TWILIO_FROM = _env("TWILIO_FROM", "")
    # Another address for Twilio's API (a local server speaking it, in tests); empty = Twilio itself.
    TWILIO_API_BASE = _env("TWILIO_API_BASE", "")
    # When the visit reminders go out, before the visit: days (d), hours (h) or minutes (m), comma-separated.
    VISIT_REMINDERS = _env("VISIT_REMINDERS", "2d,2h")
    # The length of a consultation, for the calendar invitation.
    VISIT_LENGTH_MINUTES = int(_env("VISIT_LENGTH_MINUTES", "45"))
    # The on-call clinician's mobile (E.164): an emergency request is texted to it too (texting must be on).
    ONCALL_PHONE = _env("ONCALL_PHONE", "")
    # The morning digest to MAIL_INTAKE_ADDRESS of requests past the callback promise (clinic time, working
    # days only); empty = no digest.
    OVERDUE_DIGEST_TIME = _env("OVERDUE_DIGEST_TIME", "07:30")
    # The worker (`flask worker`): seconds between looks at the outbox, and how long a claimed batch is left
    # to the worker that claimed it before another may retry it (a worker that died mid-batch).
    WORKER_POLL_SECONDS = float(_env("WORKER_POLL_SECONDS", "5"))
    OUTBOX_LEASE_SECONDS = int(_env("OUTBOX_LEASE_SECONDS", "300"))

    # Where staff reach the site, including any path prefix. The link in the email is built from this,
    # never from the request's Host header, which the client controls (a forged host would send staff
    # to someone else's site).
    # Production refuses a loopback or plain-http address (links in emails would lead nowhere, or in clear text).
    PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "")
    # SQLite only (app/platform/database.py): seconds a worker queues for the write lock before "database is
    # locked". A transaction takes the lock before its first write, so under load submissions wait their
    # turn instead of failing.
    SQLITE_BUSY_TIMEOUT = float(_env("SQLITE_BUSY_TIMEOUT", "15"))

    # `flask backup --scheduled` (the backup timer): where the backups go and how many are kept.
    BACKUP_DIR = _env("BACKUP_DIR", str(INSTANCE_DIR / "backups"))
    BACKUP_KEEP = int(_env("BACKUP_KEEP", "14"))
    # The readiness check fails when the last verified backup is older than this (hours).
    BACKUP_MAX_AGE_HOURS = float(_env("BACKUP_MAX_AGE_HOURS", "26"))
    # Bearer token for /readyz and /metrics (monitoring); empty = both answer 404.
    MONITORING_TOKEN = os.environ.get("MONITORING_TOKEN", "")
    # Past this many messages waiting (or any failed), the readiness check fails.
    OUTBOX_MAX_BACKLOG = int(_env("OUTBOX_MAX_BACKLOG", "50"))


# Development and test keys: fixed, public, and never accepted in production.
DEV_DATA_KEYS = "dev1:ZGV2LW9ubHktZGF0YS1rZXktbm90LWZvci1wcm9kISE"  # b"dev-only-data-key-not-for-prod!!"
DEV_INDEX_KEY = "ZGV2LW9ubHktYmxpbmQtaW5kZXgta2V5LW5vdC1mb3ItcHJvZA"  # b"dev-only-blind-index-key-not-for-prod"


class DevelopmentConfig(Config):
    """Local development: a fixed, obviously unsafe key so `make run` works out of the box."""

    DEBUG = False
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-not-secret"
    # Its own file: data typed while trying the app out never lands in a production database.
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'mild-dev.sqlite3'}")
    PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    DATA_ENCRYPTION_KEYS = os.environ.get("DATA_ENCRYPTION_KEYS") or DEV_DATA_KEYS
    BLIND_INDEX_KEY = os.environ.get("BLIND_INDEX_KEY") or DEV_INDEX_KEY


class TestingConfig(Config):
    """The test suite; the database URL is set per test by the fixtures."""

    TESTING = True
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", "sqlite://")  # in memory unless a test names its database
    PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    SECRET_KEY = "test-only-not-secret"  # noqa: S105 - tests only
    DATA_ENCRYPTION_KEYS = DEV_DATA_KEYS
    BLIND_INDEX_KEY = DEV_INDEX_KEY
    RATELIMIT_ENABLED = False  # rate-limit tests switch it on explicitly
    REQUESTS_PER_PHONE = 0  # likewise: many tests send several requests with one phone number
    FORM_MIN_SECONDS = 0.0
    # Hashing at production cost was most of the staff tests' time; one test keeps the production profile.
    PASSWORD_HASH_PROFILE = "CHEAPEST"  # noqa: S105 - a profile name, not a password
    # Tests deliver the outbox explicitly, so no thread outlives a test.
    MAIL_DELIVER_IN_BACKGROUND = False


class ProductionConfig(Config):
    """Production: refuses to start on any unsafe setting (app/platform/settings_check.py, ``flask check-config``)."""

    REFUSE_UNSAFE_SETTINGS = True
    # Cookies only over HTTPS; the __Host- prefix pins the cookie to this exact host and path.
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-mild_draft"
    PREFERRED_URL_SCHEME = "https"
    STAFF_SESSION_COOKIE_NAME = "__Host-mild_staff"
    STAFF_REQUIRE_2FA = _env_flag("STAFF_REQUIRE_2FA", True)
    # gunicorn's worker count (gunicorn.conf.py reads the same variable): with more than one, per-process
    # memory:// rate limits multiply every limit, and the app warns at start.
    WEB_CONCURRENCY = int(_env("WEB_CONCURRENCY", "2"))


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """Return the configuration class named by ``FLASK_CONFIG`` (default: development)."""
    name = _env("FLASK_CONFIG", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise SystemExit(f"FLASK_CONFIG must be one of {sorted(CONFIGS)}, not {name!r}") from None
