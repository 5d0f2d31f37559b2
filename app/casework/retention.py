"""Retention: removing patient data once it has been kept as long as the clinic's policy says. No Flask.

``flask purge`` runs ``purge`` (from cron or a timer). What goes:

- drafts idle for longer than the draft timeout (answers in progress that were never finished);
- screenings that never led to a consultation request, older than the screening retention period;
- closed consultation requests whose last change (the request itself or any timeline entry) is older
  than the request retention period, with their screening and their timeline.

Audit rows stay: they hold ids and codes, never contents, and the database refuses to delete them.
A purged request takes its messages to and from the patient with it (outbox rows, texts received); staff
notices in the outbox hold no patient details (reference, category, link) and are left alone. The opt-out
of a number that sent STOP stays: it is the carrier's rule, and it is a blind index, not the number.
Functions take the SQLAlchemy session explicitly and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, exists, func, select, update
from sqlalchemy.orm import Session

from app.intake.drafts import purge_expired
from app.models import (
    Booking,
    ConsultationRequest,
    Document,
    Draft,
    InboundText,
    OutboxMessage,
    RequestEvent,
    Screening,
    SurnameKey,
)

# Ids are handled in batches: bounded statements (SQLite caps bound parameters) and bounded memory
# however much has piled up since the last run.
BATCH = 500


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of record is kept."""

    draft_idle: timedelta
    screenings: timedelta  # screenings without a request, from when they were stored
    requests: timedelta  # closed requests, from their last change

    @classmethod
    def from_days(cls, *, draft_idle: timedelta, screening_days: int, request_days: int) -> RetentionPolicy:
        """A policy from the SCREENING_RETENTION_DAYS and REQUEST_RETENTION_DAYS settings."""
        if screening_days < 1 or request_days < 1:
            raise ValueError("retention periods must be at least one day")
        return cls(draft_idle, timedelta(days=screening_days), timedelta(days=request_days))


@dataclass(frozen=True)
class PurgeCounts:
    """How many rows a purge removed (or, in a dry run, would remove)."""

    drafts: int = 0
    screenings: int = 0  # without a request
    requests: int = 0  # closed, each with its screening
    request_events: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by name (what the audit row records: numbers only)."""
        return asdict(self)


def _batches(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield list(ids[start:start + BATCH])


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def expired_request_ids(session: Session, cutoff: datetime) -> list[int]:
    """Closed requests with no change to them or their timeline since ``cutoff``, locked until commit."""
    newer_event = exists().where(RequestEvent.request_id == ConsultationRequest.id, RequestEvent.created_at >= cutoff)
    query = (
        select(ConsultationRequest.id)
        .where(ConsultationRequest.status == "closed", ConsultationRequest.updated_at < cutoff, ~newer_event)
        .order_by(ConsultationRequest.id)
        # PostgreSQL: a colleague reopening one of these now waits for the purge, or the purge waits for
        # them and then sees (via the conditions above, re-checked on delete) that it is no longer closed.
        .with_for_update(of=ConsultationRequest)
    )
    return list(session.scalars(query))


def unrequested_screening_ids(session: Session, cutoff: datetime) -> list[int]:
    """Screenings stored before ``cutoff`` that have no request and no live draft pointing at them."""
    has_request = exists().where(ConsultationRequest.screening_id == Screening.id)
    # A patient looking at this result right now could still ask for a consultation; expired drafts
    # are removed first, so any draft left is live.
    in_use = exists().where(Draft.screening_id == Screening.id)
    query = select(Screening.id).where(Screening.created_at < cutoff, ~has_request, ~in_use).order_by(Screening.id)
    return list(session.scalars(query.with_for_update(of=Screening)))


def _delete_requests(session: Session, ids: list[int], cutoff: datetime) -> tuple[int, int]:
    """Delete these requests (re-checked: still closed and unchanged), their timeline and screening."""
    still_expired = (ConsultationRequest.id.in_(ids), ConsultationRequest.status == "closed",
                     ConsultationRequest.updated_at < cutoff)
    ids = list(session.scalars(select(ConsultationRequest.id).where(*still_expired)))
    if not ids:
        return 0, 0
    screening_ids = list(session.scalars(
        select(ConsultationRequest.screening_id).where(ConsultationRequest.id.in_(ids))))
    # Foreign keys first: later requests marked as possible duplicates of these lose only the marker
    # (a plain UPDATE: no version bump, so no colleague's open form is made stale by housekeeping).
    session.execute(update(ConsultationRequest).where(ConsultationRequest.duplicate_of_id.in_(ids))
                    .values(duplicate_of_id=None).execution_options(synchronize_session=False))
    session.execute(update(Draft).where(Draft.screening_id.in_(screening_ids))
                    .values(screening_id=None).execution_options(synchronize_session=False))
    events = session.execute(delete(RequestEvent).where(RequestEvent.request_id.in_(ids))
                             .execution_options(synchronize_session=False))
    session.execute(delete(SurnameKey).where(SurnameKey.request_id.in_(ids))
                    .execution_options(synchronize_session=False))
    session.execute(delete(OutboxMessage).where(OutboxMessage.request_id.in_(ids))
                    .execution_options(synchronize_session=False))
    session.execute(delete(InboundText).where(InboundText.request_id.in_(ids))
                    .execution_options(synchronize_session=False))
    session.execute(delete(Document).where(Document.request_id.in_(ids))
                    .execution_options(synchronize_session=False))
    session.execute(delete(Booking).where(Booking.request_id.in_(ids))
                    .execution_options(synchronize_session=False))
    removed = session.execute(delete(ConsultationRequest).where(ConsultationRequest.id.in_(ids))
                              .execution_options(synchronize_session=False))
    session.execute(delete(Screening).where(Screening.id.in_(screening_ids))
                    .execution_options(synchronize_session=False))
    return int(getattr(removed, "rowcount", 0) or 0), int(getattr(events, "rowcount", 0) or 0)


def _delete_screenings(session: Session, ids: list[int]) -> int:
    has_request = exists().where(ConsultationRequest.screening_id == Screening.id)
    in_use = exists().where(Draft.screening_id == Screening.id)
    result = session.execute(delete(Screening).where(Screening.id.in_(ids), ~has_request, ~in_use)
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def purge(session: Session, now: datetime, policy: RetentionPolicy, *, dry_run: bool = False) -> PurgeCounts:
    """Remove everything past its retention period (in the caller's transaction); return the counts.

    With ``dry_run`` nothing is changed and the counts say what a real run would remove now.
    """
    if dry_run:
        return _would_remove(session, now, policy)
    request_cutoff, screening_cutoff = now - policy.requests, now - policy.screenings
    drafts = purge_expired(session, now, policy.draft_idle)  # first: a live draft protects its screening
    requests = events = 0
    for batch in _batches(expired_request_ids(session, request_cutoff)):
        removed, removed_events = _delete_requests(session, batch, request_cutoff)
        requests, events = requests + removed, events + removed_events
    screenings = sum(_delete_screenings(session, batch)
                     for batch in _batches(unrequested_screening_ids(session, screening_cutoff)))
    session.expire_all()  # bulk deletes bypass the identity map: reload anything still held
    return PurgeCounts(drafts=drafts, screenings=screenings, requests=requests, request_events=events)


def _would_remove(session: Session, now: datetime, policy: RetentionPolicy) -> PurgeCounts:
    """The counts of a purge at ``now``, read without changing or locking anything."""
    request_cutoff, screening_cutoff = now - policy.requests, now - policy.screenings
    drafts = _count(session, select(Draft.token_hash).where(Draft.updated_at < now - policy.draft_idle))
    newer_event = exists().where(RequestEvent.request_id == ConsultationRequest.id,
                                 RequestEvent.created_at >= request_cutoff)
    expired = select(ConsultationRequest.id).where(
        ConsultationRequest.status == "closed", ConsultationRequest.updated_at < request_cutoff, ~newer_event)
    events = _count(session, select(RequestEvent.id).where(RequestEvent.request_id.in_(expired)))
    live_draft = exists().where(Draft.screening_id == Screening.id, Draft.updated_at >= now - policy.draft_idle)
    has_request = exists().where(ConsultationRequest.screening_id == Screening.id)
    screenings = _count(session, select(Screening.id).where(Screening.created_at < screening_cutoff,
                                                             ~has_request, ~live_draft))
    return PurgeCounts(drafts=drafts, screenings=screenings, requests=_count(session, expired),
                       request_events=events)
