"""From a finished draft to a stored screening, and from a screening to one consultation request.

Functions take the SQLAlchemy session explicitly and never commit: the caller owns the transaction.
No Flask import.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.contact import ContactDetails
from app.driver_write import InTransaction, column_binds
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

    ``store_request`` for a screening loaded through the session (or made in its transaction): the request the
    session already knows is returned without a query, and ``screening.request`` is expired afterwards, so it
    is read again when next used. The caller commits.
    """
    # The patient pages load the screening with its request joined in: no query then (otherwise one, lazily).
    existing = screening.request
    if existing is not None:
        return StoredRequest.of(existing), False
    if screening.id is None:
        session.flush()  # a screening made in this transaction: its id comes from the insert
    stored = store_request(session.connection(), screening.id, screening.category, screening.score, details, now,
                           language=language)
    session.expire(screening, ["request"])
    return stored


def store_request(
    connection: Connection, screening_id: int, category: str, score: int, details: ContactDetails, now: datetime,
    *, language: str = "en",
) -> tuple[StoredRequest, bool]:
    """Store the consultation request for screening ``screening_id`` exactly once; return it and whether it is new.

    ``category`` and ``score`` are the screening's; ``language`` is the code of the language the patient used the
    self-check in (``en`` or ``es``).

    A repeat (double click, back button, replayed POST, or a concurrent worker) returns the request
    already stored, so the patient sees the same reference. The unique constraint on ``screening_id``
    is what makes this hold across processes.

    The rows are written by statements compiled once (``InTransaction``) on ``connection``, in its transaction
    (the caller commits): through the ORM's unit of work, with a savepoint for the insert, they were two thirds
    of a send's CPU time (BENCHMARKS.md). The column types still encrypt the details.
    """
    indexes = request_indexes(phone=details.phone, email=details.email, last_name=details.last_name)
    row = {
        "screening_id": screening_id,
        "status": "new",
        "is_open": True,
        "category": category,
        "category_rank": CATEGORY_RANK[category],
        "score": score,
        **indexes,
        "duplicate_of_id": find_recent_duplicate(connection, indexes["phone_index"], indexes["email_index"], now),
        "created_at": now,
        "updated_at": now,
        **asdict(details),
        "screen_language": language,
        "version": 1,
    }
    for _ in range(REFERENCE_ATTEMPTS):
        reference = new_reference()
        # ON CONFLICT DO NOTHING: a unique constraint that refuses the row (this screening's request, stored by a
        # concurrent send, or the random reference) leaves no row and no error, so the transaction goes on
        # without a savepoint. Any other fault (NOT NULL, a foreign key) still raises.
        request_id = _INSERT_REQUEST.execute(connection, **row, reference=reference).scalar()
        if request_id is None:
            stored = _REQUEST_OF_SCREENING.first(connection, screening_id=screening_id)
            if stored is not None:
                return StoredRequest(*stored), False  # another submission of the same screening won the race
            continue  # the random reference collided: draw another
        _INSERT_EVENT.execute(connection, request_id=request_id, kind="submitted", status_to="new", data={},
                              created_at=now)
        return StoredRequest(request_id, reference, category, now), True
    raise ReferenceSpaceExhausted(f"{REFERENCE_ATTEMPTS} reference collisions in a row")


def find_recent_duplicate(
    connection: Connection, phone_index: str | None, email_index: str | None, now: datetime
) -> int | None:
    """The most recent request from the same phone or email in the last 30 days, if any.

    Takes the blind indexes (app/search_index.py): the phone and email themselves are stored encrypted.
    """
    found = _RECENT_DUPLICATE.first(connection, phone_index=phone_index, email_index=email_index,
                                    since=now - DUPLICATE_WINDOW)
    return None if found is None else int(found[0])


_REQUEST = ConsultationRequest.__table__
_REQUEST_COLUMNS = (
    "reference", "screening_id", "status", "is_open", "category", "category_rank", "score", "first_name",
    "last_name", "date_of_birth", "phone", "email", "phone_index", "email_index", "last_name_index",
    "preferred_contact", "best_time", "preferred_language", "screen_language", "insurance", "message",
    "consent_contact", "duplicate_of_id", "created_at", "updated_at", "version",
)
# A request unless a unique constraint refuses it, RETURNING its id; each dialect's construct writes ON CONFLICT.
_INSERT_REQUEST = InTransaction({
    name: dialect_insert(_REQUEST).values(column_binds(_REQUEST, _REQUEST_COLUMNS)).on_conflict_do_nothing()
    .returning(_REQUEST.c.id)
    for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
})
_REQUEST_OF_SCREENING = InTransaction(
    select(_REQUEST.c.id, _REQUEST.c.reference, _REQUEST.c.category, _REQUEST.c.created_at)
    .where(_REQUEST.c.screening_id == bindparam("screening_id"))
)
# The most recent request with the same phone, or the same email (a NULL email matches nothing), since ``since``.
_RECENT_DUPLICATE = InTransaction(
    select(_REQUEST.c.id)
    .where(or_(_REQUEST.c.phone_index == bindparam("phone_index", type_=_REQUEST.c.phone_index.type),
               _REQUEST.c.email_index == bindparam("email_index", type_=_REQUEST.c.email_index.type)),
           _REQUEST.c.created_at >= bindparam("since", type_=_REQUEST.c.created_at.type))
    .order_by(_REQUEST.c.created_at.desc())
    .limit(1)
)
_EVENT = RequestEvent.__table__
_INSERT_EVENT = InTransaction(
    insert(_EVENT).values(column_binds(_EVENT, ("request_id", "kind", "status_to", "data", "created_at")))
)
