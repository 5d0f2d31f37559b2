"""From a finished draft to a stored screening, and from a screening to one consultation request.

Functions take the SQLAlchemy session explicitly and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.intake.contact import ContactDetails
from app.intake.reference import new_reference
from app.models import CATEGORY_RANK, ConsultationRequest, Draft, RequestEvent, Screening, SurnameKey
from app.platform.database import dialect_insert
from app.screening import Assessment, assess, validate_answers
from app.security.search_index import phone_index, request_indexes, surname_keys

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


@dataclass(frozen=True)
class StoredRequest:
    """What the patient's confirmation and the intake email need of a stored request (no contact details)."""

    id: int
    reference: str
    category: str
    created_at: datetime

    @classmethod
    def of(cls, request: ConsultationRequest) -> StoredRequest:
        """The stored request ``request`` (an ORM row) as this summary."""
        return cls(request.id, request.reference, request.category, request.created_at)


def submit_request(
    session: Session, screening: Screening, details: ContactDetails, now: datetime, *, language: str = "en"
) -> tuple[StoredRequest, bool]:
    """Store the consultation request for ``screening`` exactly once; return it and whether it is new.

    ``language`` is the code of the language the patient used the self-check in (``en`` or ``es``).

    A repeat (double click, back button, replayed POST, or a concurrent worker) returns the request
    already stored, so the patient sees the same reference. The unique constraint on ``screening_id``
    is what makes this hold across processes: the INSERT is ``ON CONFLICT DO NOTHING``, so a constraint that
    refuses the row (this screening's request, stored by a concurrent send, or the random reference) leaves
    no row and no error, and the transaction goes on without a savepoint. The caller commits.
    """
    existing = screening.request  # the patient pages load it joined in with the screening
    if existing is not None:
        return StoredRequest.of(existing), False
    if screening.id is None:
        session.flush()  # a screening made in this transaction: its id comes from the insert
    indexes = request_indexes(phone=details.phone, email=details.email, last_name=details.last_name)
    row = {
        "screening_id": screening.id,
        "status": "new",
        "is_open": True,
        "category": screening.category,
        "category_rank": CATEGORY_RANK[screening.category],
        "score": screening.score,
        **indexes,
        "duplicate_of_id": find_recent_duplicate(session, indexes["phone_index"], indexes["email_index"], now),
        "created_at": now,
        "updated_at": now,
        **asdict(details),
        "screen_language": language,
        "version": 1,
    }
    insert = dialect_insert(session)
    for _ in range(REFERENCE_ATTEMPTS):
        reference = new_reference()
        statement = (insert(ConsultationRequest).values(**row, reference=reference)
                     .on_conflict_do_nothing().returning(ConsultationRequest.id))
        request_id = session.execute(statement).scalar()
        if request_id is None:
            stored = session.execute(
                select(ConsultationRequest.id, ConsultationRequest.reference, ConsultationRequest.category,
                       ConsultationRequest.created_at).where(ConsultationRequest.screening_id == screening.id)
            ).first()
            if stored is not None:
                session.expire(screening, ["request"])
                return StoredRequest(*stored), False  # another submission of the same screening won the race
            continue  # the random reference collided: draw another
        session.add(RequestEvent(request_id=request_id, kind="submitted", status_to="new", data={}, created_at=now))
        session.add_all(SurnameKey(request_id=request_id, digest=digest, category_rank=row["category_rank"],
                                   created_at=now) for digest in surname_keys(details.last_name))
        session.expire(screening, ["request"])  # read again when next used
        return StoredRequest(request_id, reference, screening.category, now), True
    raise ReferenceSpaceExhausted(f"{REFERENCE_ATTEMPTS} reference collisions in a row")


def requests_from_phone(session: Session, phone: str, since: datetime) -> int:
    """How many requests were sent with this phone number (E.164) since ``since``, found by its blind index."""
    return session.scalar(
        select(func.count()).select_from(ConsultationRequest)
        .where(ConsultationRequest.phone_index == phone_index(phone), ConsultationRequest.created_at >= since)
    ) or 0


def find_recent_duplicate(
    session: Session, phone_index: str | None, email_index: str | None, now: datetime
) -> int | None:
    """The most recent request from the same phone or email in the last 30 days, if any.

    Takes the blind indexes (app/security/search_index.py): the phone and email themselves are stored encrypted.
    A NULL email matches nothing.
    """
    return session.scalar(
        select(ConsultationRequest.id)
        .where(or_(ConsultationRequest.phone_index == phone_index, ConsultationRequest.email_index == email_index),
               ConsultationRequest.created_at >= now - DUPLICATE_WINDOW)
        .order_by(ConsultationRequest.created_at.desc())
        .limit(1)
    )
