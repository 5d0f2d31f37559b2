"""``/healthz`` for load balancers and process supervisors: is this worker able to reach its database?

It runs ``SELECT 1`` and touches no table, so it reads no patient data. It is not rate-limited (no limit
is declared on it) and not audited (only the staff console is), so probes every few seconds neither
lock themselves out nor fill the audit log. The body never says why the database is unavailable.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 ``{"status": "ok"}`` when ``SELECT 1`` succeeds, 503 ``{"status": "unavailable"}`` otherwise."""
    try:
        # Its own short connection; a read takes no write lock (app/platform/database.py), so a probe never
        # queues behind, or holds up, a patient's submission.
        with db.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1").scalar_one()
    except SQLAlchemyError as error:
        # The class name only: a driver message can hold the database URL or a file path.
        log.error("health check: database unavailable (%s)", type(error).__name__)
        status, code = "unavailable", 503
    else:
        status, code = "ok", 200
    response = jsonify(status=status)
    response.headers["Cache-Control"] = "no-store"  # a cached "ok" would hide an outage
    return response, code
