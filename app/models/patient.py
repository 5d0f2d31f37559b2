"""Patient-side records: drafts in progress, completed screenings, and consultation requests."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import EncryptedDate, EncryptedJSON, EncryptedText, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.schedule import Booking


class Draft(db.Model):
    """A patient's answers in progress, keyed by the hash of the id in their cookie.

    Only the SHA-256 of the cookie's token is stored, so a copy of the database cannot be used to
    take over a patient's draft. The contact details typed so far are encrypted like the request's.
    """

    __tablename__ = "draft"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    contact: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("draft.contact"), default=dict)
    screening_id: Mapped[int | None] = mapped_column(ForeignKey("screening.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    screening: Mapped[Screening | None] = relationship()


class Screening(db.Model):
    """A completed questionnaire with its assessment, stored whether or not a request follows."""

    __tablename__ = "screening"

    id: Mapped[int] = mapped_column(primary_key=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    assessment: Mapped[dict[str, Any]] = mapped_column(JSON)
    category: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[int]
    cook_score: Mapped[int]
    rule_version: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    request: Mapped[ConsultationRequest | None] = relationship(back_populates="screening")


# Queue order: emergencies first, then likely, possible, unlikely (issue: the work queue).
CATEGORY_RANK: dict[str, int] = {"emergency": 0, "likely": 1, "possible": 2, "unlikely": 3}
OPEN_STATUSES = ("new", "in_progress", "scheduled")


# The open, unassigned requests, as the queue's filters compile on each database (``is_(True)``, ``is_(None)``).
UNASSIGNED_OPEN_SQLITE = "is_open IS 1 AND assignee_id IS NULL"
UNASSIGNED_OPEN_POSTGRESQL = "is_open IS true AND assignee_id IS NULL"


class ConsultationRequest(db.Model):
    """A patient's request to be contacted about a consultation; one per screening at most.

    ``version`` is bumped on every change; an edit based on an older version is refused, so two
    colleagues working on the same request never overwrite each other silently.

    The contact details are encrypted (app/security/crypto.py, each bound to its column); phone, email and last
    name are found through their blind indexes (app/security/search_index.py), never by comparing them in SQL.
    """

    __tablename__ = "consultation_request"
    # Each index matches one queue view: its filter columns, then the queue order (rank, age, id).
    __table_args__ = (
        Index("ix_consultation_request_queue_open", "is_open", "category_rank", "created_at", "id"),
        Index("ix_consultation_request_queue_status", "status", "category_rank", "created_at", "id"),
        Index("ix_consultation_request_queue_assignee", "assignee_id", "category_rank", "created_at", "id"),
        Index("ix_consultation_request_phone_index_created_at", "phone_index", "created_at"),
        Index("ix_consultation_request_email_index_created_at", "email_index", "created_at"),
        Index("ix_consultation_request_queue_last_name", "last_name_index", "category_rank", "created_at", "id"),
        Index("ix_consultation_request_queue_all", "category_rank", "created_at", "id"),  # "All", and the export
        Index("ix_consultation_request_queue_open_assignee", "is_open", "assignee_id", "category_rank", "created_at",
              "id"),
        # Nobody's open requests ("not assigned"): a B-tree gives queue order only after equality conditions,
        # and ``assignee_id IS NULL`` is not one on PostgreSQL, so the index above was read in full and sorted.
        # The predicate is written as app/casework/queue.py's filters compile, so both planners match it.
        Index("ix_consultation_request_queue_unassigned", "category_rank", "created_at", "id",
              sqlite_where=text(UNASSIGNED_OPEN_SQLITE), postgresql_where=text(UNASSIGNED_OPEN_POSTGRESQL)),
        Index("ix_consultation_request_created_at", "created_at"),
        Index("ix_consultation_request_callback_at", "callback_at"),  # the "due now" view's call-backs
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    # Unique: the database itself guarantees one request per screening, whatever the browser resends.
    screening_id: Mapped[int] = mapped_column(ForeignKey("screening.id"), unique=True)
    status: Mapped[str] = mapped_column(String(24), default="new")
    is_open: Mapped[bool] = mapped_column(default=True)
    category: Mapped[str] = mapped_column(String(16))
    category_rank: Mapped[int]
    score: Mapped[int]
    first_name: Mapped[str] = mapped_column(EncryptedText("consultation_request.first_name"))
    last_name: Mapped[str] = mapped_column(EncryptedText("consultation_request.last_name"))
    date_of_birth: Mapped[date] = mapped_column(EncryptedDate("consultation_request.date_of_birth"))
    phone: Mapped[str] = mapped_column(EncryptedText("consultation_request.phone"))  # E.164
    email: Mapped[str | None] = mapped_column(EncryptedText("consultation_request.email"))
    # Blind indexes (hex HMAC-SHA256) for search and duplicate detection; see app/security/search_index.py.
    phone_index: Mapped[str] = mapped_column(String(64))
    email_index: Mapped[str | None] = mapped_column(String(64))
    last_name_index: Mapped[str] = mapped_column(String(64))
    preferred_contact: Mapped[str] = mapped_column(String(8))
    best_time: Mapped[str] = mapped_column(String(12))
    preferred_language: Mapped[str] = mapped_column(String(8))
    # The language the patient read the self-check in (app/web/i18n.py), for staff: not always the one
    # they asked to speak.
    screen_language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    insurance: Mapped[str] = mapped_column(String(24))
    message: Mapped[str | None] = mapped_column(EncryptedText("consultation_request.message"))
    consent_contact: Mapped[bool]
    # Separate permission to text (carrier rules): unticked by default, asked only when texting is on.
    consent_text: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The patient's answer to a visit reminder: "confirmed" or "reschedule"; cleared when the visit moves.
    visit_reply: Mapped[str | None] = mapped_column(String(12))
    visit_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Asked from December 2026 (NULL on older requests): the language when "other", whether a voicemail may be
    # left, and someone who may answer for the patient.
    other_language: Mapped[str | None] = mapped_column(EncryptedText("consultation_request.other_language"))
    voicemail: Mapped[str | None] = mapped_column(String(4))
    proxy_name: Mapped[str | None] = mapped_column(EncryptedText("consultation_request.proxy_name"))
    proxy_relationship: Mapped[str | None] = mapped_column(
        EncryptedText("consultation_request.proxy_relationship"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("consultation_request.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(24))
    # The call list: a time the patient asked to be called back, and the contact attempts so far (kept with
    # each attempt, so the queue shows them without reading every timeline).
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contact_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # How many documents the patient sent (app/intake/documents.py keeps it): the CSV export reads it per row.
    document_count: Mapped[int] = mapped_column(default=0, server_default="0")
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_contact_outcome: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative API

    screening: Mapped[Screening] = relationship(back_populates="request")
    assignee: Mapped[StaffUser | None] = relationship()
    duplicate_of: Mapped[ConsultationRequest | None] = relationship(remote_side=[id])
    events: Mapped[list[RequestEvent]] = relationship(
        back_populates="request", order_by="RequestEvent.id", cascade="all, delete-orphan"
    )
    surname_keys: Mapped[list[SurnameKey]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    bookings: Mapped[list[Booking]] = relationship(back_populates="request", order_by="Booking.id",
                                                   passive_deletes=True)

    @property
    def active_booking(self) -> Booking | None:
        """The consultation time booked for this request and not cancelled, if any."""
        return next((b for b in self.bookings if b.cancelled_at is None), None)


class SurnameKey(db.Model):
    """A blind index of the last name, and of each word of it, for the queue's name search.

    "Hernández García" has three: "hernandez garcia", "hernandez" and "garcia" (app/security/search_index.py),
    so a search for any of them finds the request without the name being stored in clear.
    """

    __tablename__ = "surname_key"
    # A name search reads one range of this index per category, already in queue order: the request's
    # category and submission time never change, so they are copied here.
    __table_args__ = (Index("ix_surname_key_queue", "digest", "category_rank", "created_at", "request_id"),)

    request_id: Mapped[int] = mapped_column(ForeignKey("consultation_request.id", ondelete="CASCADE"),
                                            primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    category_rank: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RequestStatusCount(db.Model):
    """How many requests are in one status, kept exact by database triggers (migration 0006).

    The queue shows these counts on every view; counting a million requests each time was the slowest part
    of the page. Nothing in the app writes this table: consultation_request's triggers do, in the same
    transaction as the change they count.
    """

    __tablename__ = "request_status_count"

    status: Mapped[str] = mapped_column(String(24), primary_key=True)
    requests: Mapped[int]


from app.models.staff import StaffUser  # noqa: E402  (relationship targets; staff imports nothing from here)
from app.models.work import RequestEvent  # noqa: E402


class EmergencyScreenCount(db.Model):
    """How many self-checks were sent to emergency care from the safety page, per day in the clinic's time zone.

    Anonymous by design (spec section 3, E1): a day and a number, no answers and nothing that identifies anyone,
    so a patient who stops at the emergency page leaves no answers behind once their draft expires.
    """

    __tablename__ = "emergency_screen_count"

    day: Mapped[date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
