"""Working a consultation request: assign, log contact attempts, change status, add notes. No Flask.

Every change names the version it was based on. If a colleague saved first, the change is refused with
``StaleRequest`` and nothing is written; the database's version column catches the same race between
two processes (SQLAlchemy raises ``StaleDataError`` at flush, which callers treat the same way).
Each change appends a timeline event with who and when.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.casework.status import (
    CONTACT_METHODS,
    CONTACT_OUTCOMES,
    EMERGENCY_STEPS,
    OUTCOMES,
    STATUS_LABELS,
    allowed_next,
)
from app.models import ConsultationRequest, RequestEvent, StaffUser

NOTE_MAX = 2000
CALLBACK_LATEST = timedelta(days=90)  # a call-back further ahead than this is a typing mistake
CALLBACK_GRACE = timedelta(minutes=5)  # "now" typed a minute late is still accepted


class StaleRequest(Exception):
    """Someone else changed the request after this person loaded it."""


class InvalidChange(ValueError):
    """The change is not allowed (an unknown value, or a transition the workflow does not have)."""


def _check_version(request: ConsultationRequest, expected: int) -> None:
    if request.version != expected:
        raise StaleRequest


def _event(request: ConsultationRequest, actor: StaffUser | None, now: datetime, kind: str,
           **values: Any) -> RequestEvent:
    event = RequestEvent(staff_id=actor.id if actor else None, kind=kind, created_at=now, **values)
    request.events.append(event)  # appended through the parent so it joins the parent's session
    request.updated_at = now  # touching the row bumps its version, so concurrent edits conflict
    return event


def _clean_note(note: str | None) -> str | None:
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        raise InvalidChange(f"A note must be {NOTE_MAX} characters or fewer")
    if "\x00" in text:
        # PostgreSQL's text type refuses NUL (a server error there) where SQLite would store it: refused
        # alike on every database. Other control characters (new lines, tabs) belong in notes.
        raise InvalidChange("A note cannot contain a NUL character")
    return text or None


def assign(request: ConsultationRequest, assignee: StaffUser | None, *, actor: StaffUser, now: datetime,
           expected_version: int) -> None:
    """Give the request to ``assignee`` (None: unassign)."""
    if request.assignee_id == (assignee.id if assignee else None):
        return  # already so (a double click, or a colleague did the same): nothing to refuse
    _check_version(request, expected_version)
    if assignee is not None and not assignee.active:
        raise InvalidChange("That account is disabled")
    request.assignee_id = assignee.id if assignee else None
    _event(request, actor, now, "assigned",
           data={"assignee_id": assignee.id if assignee else None, "assignee": assignee.name if assignee else None})


def log_contact(request: ConsultationRequest, *, method: str, outcome: str, note: str | None, actor: StaffUser,
                now: datetime, expected_version: int) -> None:
    """Record a contact attempt; the first attempt on a new request puts it in progress."""
    _check_version(request, expected_version)
    if method not in CONTACT_METHODS or outcome not in CONTACT_OUTCOMES:
        raise InvalidChange("Choose how you tried to contact the patient and what happened")
    _event(request, actor, now, "contact_attempt", data={"method": method, "outcome": outcome},
           note=_clean_note(note))
    request.contact_attempts += 1
    request.last_contact_at, request.last_contact_outcome = now, outcome
    if request.callback_at is not None and request.callback_at <= now:
        request.callback_at = None  # the call-back that came due is this attempt; a later one stays
    if request.status == "new":
        _move(request, "in_progress", actor=actor, now=now)


def change_status(request: ConsultationRequest, to: str, *, actor: StaffUser, now: datetime, expected_version: int,
                  scheduled_for: datetime | None = None, outcome: str | None = None, note: str | None = None) -> None:
    """Move the request along an allowed transition; scheduling needs a time, closing needs an outcome."""
    _check_version(request, expected_version)
    if to not in allowed_next(request.status):
        raise InvalidChange(f"A request that is {STATUS_LABELS.get(request.status, request.status).lower()} "
                            f"cannot be moved to {STATUS_LABELS.get(to, to).lower()}")
    if to == "scheduled" and scheduled_for is None:
        raise InvalidChange("Enter the appointment date and time")
    if to == "closed" and outcome not in OUTCOMES:
        raise InvalidChange("Choose the outcome")
    _move(request, to, actor=actor, now=now, scheduled_for=scheduled_for, outcome=outcome, note=_clean_note(note))


def schedule_visit(request: ConsultationRequest, when: datetime, *, actor: StaffUser | None, now: datetime,
                   data: dict[str, Any] | None = None) -> None:
    """Set the visit to ``when`` for a booked consultation time (app/scheduling): a new request is put in
    progress first, a scheduled one is moved. ``actor`` None: the patient booked it through a link."""
    if not request.is_open:
        raise InvalidChange("This request is closed; reopen it before booking a time")
    if request.status == "new":
        _move(request, "in_progress", actor=actor, now=now, keep_booking=True)
    _move(request, "scheduled", actor=actor, now=now, scheduled_for=when, data=data, keep_booking=True)


def _move(request: ConsultationRequest, to: str, *, actor: StaffUser | None, now: datetime,
          scheduled_for: datetime | None = None, outcome: str | None = None, note: str | None = None,
          data: dict[str, Any] | None = None, keep_booking: bool = False) -> None:
    data = dict(data or {})
    if not keep_booking and (to != "scheduled" or scheduled_for is not None):
        # The booked time no longer holds (the visit ended, or was set to a time typed by hand): free it.
        for booking in request.bookings:
            if booking.cancelled_at is None:
                booking.cancelled_at = now
                data["booking_cancelled"] = booking.id
    if to == "scheduled" and scheduled_for is not None:
        request.scheduled_for = scheduled_for
        data["scheduled_for"] = scheduled_for.isoformat()
    if to == "closed":
        request.outcome = outcome
        data["outcome"] = outcome
    else:
        request.outcome = None  # reopening clears the old outcome; the timeline keeps it
    _event(request, actor, now, "status", status_from=request.status, status_to=to, data=data, note=note)
    request.status = to
    request.is_open = to != "closed"


def set_callback(request: ConsultationRequest, at: datetime | None, *, actor: StaffUser, now: datetime,
                 expected_version: int) -> None:
    """Set the time the patient asked to be called back (None clears it); it must be in the next 90 days."""
    _check_version(request, expected_version)
    if at is not None and not now - CALLBACK_GRACE <= at <= now + CALLBACK_LATEST:
        raise InvalidChange("Enter a call-back time between now and 90 days from now")
    if not request.is_open and at is not None:
        raise InvalidChange("This request is closed; reopen it before setting a call-back time")
    if request.callback_at == at:
        return
    request.callback_at = at
    _event(request, actor, now, "callback", data={"callback_at": at.isoformat() if at else None})


def record_emergency_steps(request: ConsultationRequest, steps: list[str], *, actor: StaffUser, now: datetime,
                           note: str | None, expected_version: int) -> None:
    """Record which steps of the emergency protocol were done (app/casework/status.py, EMERGENCY_STEPS)."""
    _check_version(request, expected_version)
    if request.category != "emergency":
        raise InvalidChange("The emergency steps are only for emergency requests")
    if not steps or any(step not in EMERGENCY_STEPS for step in steps):
        raise InvalidChange("Choose at least one step you have done")
    if "went_to_er" in steps and "told_911" in steps:
        raise InvalidChange("Choose either that they went to emergency care or that you told them to call, not both")
    _event(request, actor, now, "protocol", data={"steps": list(dict.fromkeys(steps))}, note=_clean_note(note))


def add_note(request: ConsultationRequest, text: str, *, actor: StaffUser, now: datetime) -> None:
    """Add a free-text note to the timeline (notes only add, so they never conflict)."""
    note = _clean_note(text)
    if not note:
        raise InvalidChange("Enter a note")
    request.events.append(RequestEvent(staff_id=actor.id, kind="note", note=note, created_at=now))
