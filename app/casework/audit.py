"""Writing the audit log. Rows are added in the caller's transaction, so they commit with the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import AUDIT_ACTIONS, AuditEvent


def record(
    session: Session,
    action: str,
    *,
    now: datetime,
    staff_id: int | None,
    ip: str | None,
    target_type: str | None = None,
    target_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit row: who, what, which record (by id, never its contents), when and from where."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        at=now, staff_id=staff_id, action=action, target_type=target_type,
        target_id=None if target_id is None else str(target_id), ip=ip, detail=detail or {},
    )
    session.add(event)
    return event
