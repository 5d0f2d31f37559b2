"""Documents a patient sent with a request: a scan report, an insurance card, a referral letter."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import EncryptedBytes, EncryptedText, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.staff import StaffUser


class Document(db.Model):
    """One file, checked by its content, stored encrypted (photos re-encoded without their metadata)."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("consultation_request.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # app/intake/documents.py KINDS
    content_type: Mapped[str] = mapped_column(String(40))  # application/pdf or image/jpeg, as stored
    filename: Mapped[str] = mapped_column(EncryptedText("document.filename"))  # as the patient's device named it
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(EncryptedBytes("document.data"), deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # What a member of staff read in a scan report, beside what the patient remembered (None: not yet read).
    mri_recent: Mapped[bool | None]  # the scan was in the last 12 months
    ligament_reported: Mapped[bool | None]  # the report names a thickened ligamentum flavum
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reviewed_by: Mapped[StaffUser | None] = relationship()


class PatientLink(db.Model):
    """A link staff send a patient (by text or email) to do one thing for a request, e.g. send documents.

    Only the SHA-256 of its random token is stored: the link names no patient, and a copy of the database
    cannot be turned back into working links.
    """

    __tablename__ = "patient_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # app/intake/links.py PURPOSES
    request_id: Mapped[int] = mapped_column(ForeignKey("consultation_request.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a booking link works once
