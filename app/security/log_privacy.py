"""Keeping patient details out of the logs, whatever the log level.

At DEBUG, SQLAlchemy writes every result row to its log *after* the column types have read it, so the
encrypted contact details would appear there decrypted. DEBUG is easy to switch on by accident (a root
logger set to DEBUG while chasing a problem is enough), so those records are redacted at the source,
on SQLAlchemy's own logger, before any handler sees them. Statements and timings still log normally.
"""

from __future__ import annotations

import logging

# The logger SQLAlchemy writes result rows to (engines here have no ``logging_name``, which would add a suffix).
SQLALCHEMY_ENGINE_LOGGERS = ("sqlalchemy.engine.Engine",)
REDACTED = "[row not logged: it may hold patient details]"


class RedactResultRows(logging.Filter):
    """Replaces the content of SQLAlchemy's ``Row %r`` debug records; lets every other record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact a result-row record in place; never drop a record (its timing and count still help)."""
        if record.levelno <= logging.DEBUG and isinstance(record.msg, str) and record.msg.startswith("Row "):
            record.msg, record.args = "Row %s", (REDACTED,)
        return True


def redact_database_rows() -> None:
    """Install the row redaction on SQLAlchemy's engine logger (once per process, however many apps)."""
    for name in SQLALCHEMY_ENGINE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactResultRows) for existing in logger.filters):
            logger.addFilter(RedactResultRows())
