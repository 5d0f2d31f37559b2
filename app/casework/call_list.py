"""What each row of the call list tells a caller before dialling. No Flask.

The queue's order comes from app/casework/queue.py; this module says, for each request on the page,
why it is where it is (emergency, overdue, call-back due), which doctor-review flags it carries, and
how and when to reach the patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from app.models import ConsultationRequest
from app.platform.clinic import Clinic
from app.screening.rules import HOLDS

# The doctor-review flags (spec: P1-P3 prompt a review, and with K9 and K13 hold a result at "possible"), in
# the words a receptionist reads aloud to a clinician. The request page has the full staff text of each.
FLAG_WORDS = {
    "P1": "History of cancer",
    "P2": "Recent fall or injury",
    "P3": "Weight loss without trying",
    "K9": "Pain when sitting",
    "K13": "Unstable spine on MRI",
}


@dataclass(frozen=True)
class CallRow:
    """One request on the call list, with what the caller needs to see."""

    request: ConsultationRequest
    flags: tuple[str, ...]  # ids among P1-P3, K9, K13 that fired, in that order
    due_at: datetime | None  # when a new request falls due against the callback promise; None once tried
    overdue: bool
    callback_due: bool  # the time the patient asked to be called back has come
    unread_texts: int = 0  # texts from the patient that nobody has read yet

    @property
    def flag_words(self) -> list[tuple[str, str]]:
        """(id, words) for each flag."""
        return [(flag, FLAG_WORDS[flag]) for flag in self.flags]


def call_rows(requests: list[ConsultationRequest], *, clinic: Clinic, now: datetime,
              unread: Mapping[int, int] | None = None) -> list[CallRow]:
    """The call-list view of each request, in the order given; ``unread`` counts unread texts by request id."""
    rows = []
    for request in requests:
        cautions = set((request.screening.assessment or {}).get("cautions") or ())
        due = clinic.due_at(request.created_at) if request.status == "new" else None
        rows.append(CallRow(
            request=request,
            flags=tuple(flag for flag in FLAG_WORDS if flag in cautions and flag in HOLDS),
            due_at=due,
            overdue=due is not None and request.category != "emergency" and due <= now,
            callback_due=request.is_open and request.callback_at is not None and request.callback_at <= now,
            unread_texts=(unread or {}).get(request.id, 0),
        ))
    return rows
