"""The append-only audit log: who did what to which record, when, and from where (never the contents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

AUDIT_ACTIONS = (
    "login", "logout", "login_failed", "view_queue", "view_request", "change_request", "export",
    "account_create", "account_disable", "account_enable", "account_password",
    "sessions_ended", "two_factor_enabled", "two_factor_reset", "recovery_code_used", "login_locked",
    "account_unlock",
    "purge", "backup", "restore", "keys_rotate", "view_audit", "view_outbox", "view_system", "view_messages",
    "view_document", "view_day", "schedule_change",
)


class AuditEvent(db.Model):
    """One audited action. The app never updates or deletes these rows, and the database refuses to."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_staff_id_at", "staff_id", "at"),
        Index("ix_audit_event_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    action: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ids and codes only, never patient data
