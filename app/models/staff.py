"""Staff accounts."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import EncryptedText, UTCDateTime, utcnow

ROLES = ("frontdesk", "clinician", "admin")


class StaffUser(UserMixin, db.Model):
    """A member of staff who signs in to the console."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Two-factor sign-in (TOTP). The secret is stored encrypted by the column type (assign the plain
    # base32 secret); the last accepted time step makes every code usable once.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText("staff_user.totp_secret"))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None]
    # Per-account throttling: failures inside the current 15-minute window, and until when it must wait.
    failed_logins: Mapped[int] = mapped_column(default=0)
    failed_window_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active


class StaffSession(db.Model):
    """A signed-in staff session, held on the server; the cookie carries only its random token.

    Only the token's SHA-256 is stored. A session ends at sign-out, after the idle or absolute limit,
    when an admin ends it, or when the account is disabled or its password changes.
    """

    __tablename__ = "staff_session"
    __table_args__ = (Index("ix_staff_session_staff_id_ended_at", "staff_id", "ended_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(24))  # logout, idle, absolute, admin, disabled, password
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class RecoveryCode(db.Model):
    """A one-time recovery code for two-factor sign-in, stored only as an argon2 hash."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
