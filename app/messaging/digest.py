"""The morning digest of overdue requests to the intake address: counts and references only. No Flask."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.casework.queue import overdue_condition
from app.models import ConsultationRequest, DailyJob, OutboxMessage
from app.platform.clinic import Clinic
from app.platform.database import dialect_insert

JOB = "overdue_digest"
LISTED = 50  # references written out; the count says how many more


def queue_overdue_digest(session: Session, clinic: Clinic, *, intake_address: str, call_list_url: str,
                         at: time, now: datetime) -> OutboxMessage | None:
    """Once per working day, at or after ``at`` (clinic time): queue the digest if any request is overdue.

    The day's row in ``daily_job`` is inserted first and only one worker's insert succeeds, so the digest is
    queued once however many workers run. Does not commit. Returns the message, or None (not yet time, done
    already today, a closed day, or nothing overdue).
    """
    local = now.astimezone(clinic.timezone)
    if local.time() < at or not clinic.week.is_open_on(local.date()):
        return None
    if session.get(DailyJob, (JOB, local.date())) is not None:
        return None  # done today: a read, so the worker's every look does not queue for SQLite's write lock
    claimed = session.execute(
        dialect_insert(session)(DailyJob).values(name=JOB, day=local.date(), done_at=now)
        .on_conflict_do_nothing().returning(DailyJob.name)
    ).scalar()
    if claimed is None:
        return None
    overdue = overdue_condition(clinic.overdue_cutoff(now))
    count = session.scalar(select(func.count()).select_from(ConsultationRequest).where(overdue)) or 0
    if not count:
        return None
    references = session.scalars(
        select(ConsultationRequest.reference).where(overdue)
        .order_by(ConsultationRequest.category_rank, ConsultationRequest.created_at).limit(LISTED)
    ).all()
    more = f"\n... and {count - len(references)} more.\n" if count > len(references) else ""
    body = (
        f"{count} consultation request{'s are' if count != 1 else ' is'} past the promise to call within "
        f"{clinic.callback_days} working day{'s' if clinic.callback_days != 1 else ''} and nobody has tried to "
        "call yet. They are at the top of the call list.\n\n"
        + "".join(f"{reference}\n" for reference in references) + more
        + f"\nOpen the call list (staff sign-in needed):\n{call_list_url}\n\n"
        "This email deliberately contains no patient details; they are only in the staff console.\n"
    )
    message = OutboxMessage(channel="email", kind="digest", recipient=intake_address,
                            subject=f"MILD requests overdue this morning: {count}", body=body, created_at=now,
                            attempts=0, next_attempt_at=now)
    session.add(message)
    return message
