"""Health for machines: ``/healthz`` (is this worker usable?), ``/readyz`` and ``/metrics`` (monitoring).

``/healthz`` is for load balancers and process supervisors. It runs ``SELECT 1`` and asks whether every
encrypted value has its key (answered once per process and kept for ten minutes): a server started with the
wrong DATA_ENCRYPTION_KEYS would otherwise say "ok" while every staff page fails. It reads no patient data, is
not rate-limited and not audited, and its body never says why it is unavailable (the log does).

``/readyz`` and ``/metrics`` show the readiness checks (app/platform/readiness.py): to a monitoring system that
sends ``Authorization: Bearer <MONITORING_TOKEN>``, and to nobody (404) while that setting is empty. The
admins' system page shows the same checks.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from limits.storage import storage_from_string
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import utcnow
from app.platform.readiness import (
    Readiness,
    backup_check,
    database_check,
    keys_check,
    last_backup,
    migrations_check,
    outbox_check,
    rate_limit_check,
    readiness,
)
from app.security.crypto import keyring
from app.security.key_rotation import encrypted_tables, unknown_key_ids

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

KEY_SCAN_SECONDS = 600  # keys change only with a restart; the scan reads every encrypted table once


def unknown_keys(app: Flask) -> set[str]:
    """Key ids of stored values that this process cannot decrypt; scanned at most every ten minutes."""
    cached = app.extensions.get("unknown_keys")
    if cached is not None and time.monotonic() - cached[0] < KEY_SCAN_SECONDS:
        return set(cached[1])
    known = [key_id for key_id, _ in keyring().keys]
    found = unknown_key_ids(db.session, encrypted_tables(db.metadata), known)
    app.extensions["unknown_keys"] = (time.monotonic(), frozenset(found))
    if found:
        log.error("stored values are encrypted under key(s) %s, which DATA_ENCRYPTION_KEYS does not have; staff "
                  "cannot open those requests (flask check-config)", ", ".join(sorted(found)))
    return found


def scan_keys_soon(app: Flask) -> None:
    """At a worker's start, look for values under missing keys in a background thread: the log says so at once.

    The worker does not wait for the scan; /healthz later uses its cached answer.
    """

    def scan() -> None:
        with app.app_context():
            try:
                unknown_keys(app)
            except SQLAlchemyError as error:  # no tables yet, or no database: /healthz reports it
                log.warning("could not look for values under missing keys (%s)", type(error).__name__)

    threading.Thread(target=scan, name="key-scan", daemon=True).start()


def collect_readiness(app: Flask) -> Readiness:
    """Every readiness check for this app (needs an app context)."""
    config, now = app.config, utcnow()
    storage_options = dict(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    return readiness([
        ("database", lambda: database_check(db.engine)),
        ("migrations", lambda: migrations_check(db.engine, Path(app.extensions["migrate"].directory))),
        ("encryption keys", lambda: keys_check(lambda: unknown_keys(app))),
        ("outbox", lambda: outbox_check(db.session, now, int(config["OUTBOX_MAX_BACKLOG"]))),
        ("backup", lambda: backup_check(db.session, now, timedelta(hours=float(config["BACKUP_MAX_AGE_HOURS"])))),
        ("rate limits", lambda: rate_limit_check(str(config.get("RATELIMIT_STORAGE_URI", "memory://")),
                                                 lambda uri: _storage_answers(uri, storage_options))),
    ])


def _storage_answers(uri: str, options: dict[str, object]) -> bool:
    """Ask the configured rate-limit store itself (Flask-Limiter would answer from its in-memory fallback)."""
    return bool(storage_from_string(uri, **options).check())


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 ``{"status": "ok"}`` when the database answers and every key is there, 503 "unavailable" otherwise."""
    try:
        # Its own short connection; a read takes no write lock (app/platform/database.py), so a probe never
        # queues behind, or holds up, a patient's submission.
        with db.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1").scalar_one()
        missing = unknown_keys(current_app._get_current_object())  # type: ignore[attr-defined]
    except SQLAlchemyError as error:
        # The class name only: a driver message can hold the database URL or a file path.
        log.error("health check: database unavailable (%s)", type(error).__name__)
        status, code = "unavailable", 503
    else:
        status, code = ("unavailable", 503) if missing else ("ok", 200)
    response = jsonify(status=status)
    response.headers["Cache-Control"] = "no-store"  # a cached "ok" would hide an outage
    return response, code


def _require_monitoring_token() -> None:
    """404 unless MONITORING_TOKEN is set and the request carries it as a bearer token."""
    token = str(current_app.config.get("MONITORING_TOKEN") or "")
    sent = request.headers.get("Authorization", "")
    if not token or not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        abort(404)


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The readiness checks as JSON: 200 when all pass, 503 otherwise."""
    _require_monitoring_token()
    result = collect_readiness(current_app._get_current_object())  # type: ignore[attr-defined]
    response = jsonify(result.as_dict())
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if result.ready else 503


class ReadinessCollector:
    """A prometheus-client collector: each check as a 0/1 gauge, and the last backup's age."""

    def __init__(self, result: Readiness) -> None:
        self.result = result

    def collect(self) -> list[GaugeMetricFamily]:
        """The gauges, from the readiness result taken for this scrape."""
        checks = GaugeMetricFamily("mild_check_ok", "1 when the readiness check passes", labels=["check"])
        for check in self.result.checks:
            checks.add_metric([check.name], 1.0 if check.ok else 0.0)
        ready = GaugeMetricFamily("mild_ready", "1 when every readiness check passes", value=float(self.result.ready))
        newest = last_backup(db.session)
        age = (utcnow() - newest[0]).total_seconds() if newest else float("nan")
        backup = GaugeMetricFamily("mild_last_backup_age_seconds", "Age of the newest verified backup", value=age)
        return [ready, checks, backup]


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format, for a monitoring system holding MONITORING_TOKEN."""
    _require_monitoring_token()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReadinessCollector(collect_readiness(app)))
    response = Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response

