"""From a finished draft to a stored screening, and from a screening to one consultation request.

Functions take the SQLAlchemy session explicitly and never commit: the caller owns the transaction.
No Flask import.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.contact import ContactDetails
from app.models import CATEGORY_RANK, ConsultationRequest, Draft, RequestEvent, Screening
from app.reference import new_reference
from app.screening import Assessment, assess, validate_answers
from app.search_index import request_indexes

REFERENCE_ATTEMPTS = 5
DUPLICATE_WINDOW = timedelta(days=30)


class ReferenceSpaceExhausted(RuntimeError):
    """Several random references in a row already existed: something is wrong with the generator."""


def complete_screening(session: Session, draft: Draft, now: datetime) -> Screening:
    """Assess the draft's answers and store the screening; reuse the stored one if nothing changed.

    Raises ``InvalidAnswers`` when the draft is not complete or not valid.
    """
    answers = validate_answers(draft.answers)
    if draft.screening is not None and draft.screening.answers == answers:
        return draft.screening
    assessment = assess(answers)
    screening = Screening(
        answers=answers,
        assessment=assessment.to_dict(),
        category=assessment.category.value,
        score=assessment.score,
        cook_score=assessment.cook_score,
        rule_version=assessment.rule_version,
        created_at=now,
    )
    session.add(screening)
    draft.screening = screening
    draft.updated_at = now
    return screening


def assessment_of(screening: Screening) -> Assessment:
    """The stored assessment of ``screening``, with today's texts for its rule ids."""
    return Assessment.from_dict(screening.assessment)


def submit_request(
    session: Session, screening: Screening, details: ContactDetails, now: datetime, *, language: str = "en"
) -> tuple[ConsultationRequest, bool]:
    """Store the consultation request for ``screening`` exactly once; return it and whether it is new.

    ``language`` is the code of the language the patient used the self-check in (``en`` or ``es``).

    A repeat (double click, back button, replayed POST, or a concurrent worker) returns the request
    already stored, so the patient sees the same reference. The unique constraint on ``screening_id``
    is what makes this hold across processes; the lookup first is only the fast path.
    """
    # The patient pages load the screening with its request joined in: no query then (otherwise one, lazily).
    existing = screening.request
    if existing is not None:
        return existing, False
    indexes = request_indexes(phone=details.phone, email=details.email, last_name=details.last_name)
    duplicate_of = find_recent_duplicate(session, indexes["phone_index"], indexes["email_index"], now)
    for _ in range(REFERENCE_ATTEMPTS):
        request = ConsultationRequest(
            reference=new_reference(),
            screening_id=screening.id,
            status="new",
            is_open=True,
            category=screening.category,
            category_rank=CATEGORY_RANK[screening.category],
            score=screening.score,
            **indexes,
            duplicate_of_id=duplicate_of,
            created_at=now,
            updated_at=now,
            **asdict(details),
            screen_language=language,
        )
        request.events.append(RequestEvent(kind="submitted", status_to="new", created_at=now))
        try:
            with session.begin_nested():
                session.add(request)
        except IntegrityError:
            existing = _request_for(session, screening.id)
            if existing is not None:
                return existing, False  # another submission of the same screening won the race
            continue  # the random reference collided: draw another
        return request, True
    raise ReferenceSpaceExhausted(f"{REFERENCE_ATTEMPTS} reference collisions in a row")


def find_recent_duplicate(
    session: Session, phone_index: str, email_index: str | None, now: datetime
) -> int | None:
    """The most recent request from the same phone or email in the last 30 days, if any.

    Takes the blind indexes (app/search_index.py): the phone and email themselves are stored encrypted.
    """
    since = now - DUPLICATE_WINDOW
    matches = [ConsultationRequest.phone_index == phone_index]
    if email_index:
        matches.append(ConsultationRequest.email_index == email_index)
    return session.scalar(
        select(ConsultationRequest.id)
        .where(or_(*matches), ConsultationRequest.created_at >= since)
        .order_by(ConsultationRequest.created_at.desc())
        .limit(1)
    )


def _request_for(session: Session, screening_id: int) -> ConsultationRequest | None:
    return session.scalars(
        select(ConsultationRequest).where(ConsultationRequest.screening_id == screening_id)
    ).first()
