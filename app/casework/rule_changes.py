"""Open requests whose category the current rule set would change: a report that changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ConsultationRequest, Screening
from app.screening.reassessment import reassess
from app.screening.rules import RULE_VERSION


@dataclass(frozen=True)
class ChangedCategory:
    """One open request that the current rules would put in another category (or cannot assess)."""

    reference: str
    rule_version: str
    stored_category: str
    current_category: str | None  # None: the current rules cannot assess the stored answers
    problem: str


def changed_open_requests(session: Session) -> list[ChangedCategory]:
    """Every open request assessed under an older rule set whose category the current rules would change.

    In queue order (category, then oldest first). Reads only: stored assessments are never rewritten.
    """
    rows = session.execute(
        select(ConsultationRequest.reference, Screening.answers, Screening.assessment)
        .join(Screening, Screening.id == ConsultationRequest.screening_id)
        .where(ConsultationRequest.is_open.is_(True), Screening.rule_version != RULE_VERSION)
        .order_by(ConsultationRequest.category_rank, ConsultationRequest.created_at, ConsultationRequest.id)
    )
    changed = []
    for reference, answers, assessment in rows:
        view = reassess(answers or {}, assessment)
        if view.category_changed:
            changed.append(ChangedCategory(
                reference, view.stored.rule_version, view.stored.category.value,
                None if view.current is None else view.current.category.value, view.problem))
    return changed
