"""Is this installation ready to serve patients? Each check in plain words, for admins and for monitoring.

``/readyz`` (monitoring, behind a token), the admins' system page and ``flask check-config`` show the same
checks: the database answers, its migrations are at the head, every encrypted value has its key, the outbox is
not backing up, a verified backup is recent, and the shared rate-limit store answers. A check never reads or
shows patient data: it counts rows and names keys, settings and ages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.models import AuditEvent, OutboxMessage


@dataclass(frozen=True)
class Check:
    """One readiness check: a short name, whether it passed, and what was found (no patient data)."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    """Every check's result; ``ready`` when all passed."""

    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``/readyz``."""
        return {"status": "ready" if self.ready else "not ready",
                "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in self.checks}}


def database_check(engine: Engine) -> Check:
    """``SELECT 1`` on a connection of its own."""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1").scalar_one()
    except SQLAlchemyError as error:  # the class name only: a driver message can hold the URL
        return Check("database", False, f"cannot reach the database ({type(error).__name__})")
    return Check("database", True, f"{engine.dialect.name} answers")


def migrations_check(engine: Engine, migrations: Path) -> Check:
    """Whether the database's Alembic revision is the code's head (``flask db upgrade`` makes it so)."""
    heads = set(ScriptDirectory(str(migrations)).get_heads())
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        return Check("migrations", False, f"cannot read the revision ({type(error).__name__})")
    if current == heads:
        return Check("migrations", True, f"at head {', '.join(sorted(heads))}")
    shown = ", ".join(sorted(current)) or "an empty database"
    return Check("migrations", False, f"the database is at {shown}, the code needs {', '.join(sorted(heads))}: "
                                      "run `flask db upgrade`")


def keys_check(unknown: Callable[[], set[str]]) -> Check:
    """Whether any stored value is under a key that DATA_ENCRYPTION_KEYS lacks (``unknown`` finds them)."""
    try:
        missing = unknown()
    except SQLAlchemyError as error:
        return Check("encryption keys", False, f"cannot read the encrypted columns ({type(error).__name__})")
    if missing:
        return Check("encryption keys", False, f"rows are encrypted under key(s) {', '.join(sorted(missing))}, which "
                                               "DATA_ENCRYPTION_KEYS does not have: staff cannot open them. Add the "
                                               "missing key(s) after the newest one and restart")
    return Check("encryption keys", True, "every encrypted value has its key")


def outbox_check(session: Session, now: datetime, max_backlog: int) -> Check:
    """Messages due and not sent, and messages given up on (failed), against ``max_backlog``."""
    waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None), OutboxMessage.cancelled_at.is_(None),
        OutboxMessage.next_attempt_at <= now)) or 0
    failed = session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.failed_at.is_not(None))) or 0
    ok = failed == 0 and waiting <= max_backlog
    return Check("outbox", ok, f"{waiting} message(s) due and waiting, {failed} failed"
                 + ("" if ok else ": see Outbox in the console, and the mail server's settings"))


def last_backup(session: Session) -> tuple[datetime, Mapping[str, Any]] | None:
    """When the newest verified backup was taken, and its audit detail (file, size), or None."""
    rows = session.execute(select(AuditEvent.at, AuditEvent.detail).where(AuditEvent.action == "backup")
                           .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(50)).all()
    for at, detail in rows:
        if (detail or {}).get("verified"):
            return at, detail
    return None


def backup_check(session: Session, now: datetime, max_age: timedelta) -> Check:
    """Whether a verified backup is younger than ``max_age``."""
    newest = last_backup(session)
    if newest is None:
        return Check("backup", False, "no verified backup yet: run `flask backup --scheduled` (deploy/README.md)")
    age = now - newest[0]
    hours = age.total_seconds() / 3600
    ok = age <= max_age
    return Check("backup", ok, f"last verified backup {hours:.1f} h ago"
                 + ("" if ok else f", older than {max_age.total_seconds() / 3600:g} h: check the backup timer"))


def rate_limit_check(storage_uri: str, ping: Callable[[str], bool]) -> Check:
    """Whether the shared rate-limit store answers (``memory://`` is per process and always answers)."""
    if storage_uri.startswith("memory://"):
        return Check("rate limits", True, "memory:// (each process counts alone)")
    try:
        answered = ping(storage_uri)
    except Exception as error:  # any client error means the store is not usable
        return Check("rate limits", False, f"the store does not answer ({type(error).__name__}): limits fall back "
                                           "to each process's memory")
    return Check("rate limits", answered, "the shared store answers" if answered else "the store does not answer")


def readiness(checks: Sequence[tuple[str, Callable[[], Check]]]) -> Readiness:
    """Run the named ``checks`` in order; one that cannot read the database fails with the error's class name."""
    results: list[Check] = []
    for name, check in checks:
        try:
            results.append(check())
        except SQLAlchemyError as error:
            results.append(Check(name, False, f"cannot read the database ({type(error).__name__})"))
    return Readiness(tuple(results))
