"""The life of a consultation request: statuses, allowed transitions and closing outcomes. No Flask."""

from __future__ import annotations

STATUSES = ("new", "in_progress", "scheduled", "closed")
STATUS_LABELS = {"new": "New", "in_progress": "In progress", "scheduled": "Scheduled", "closed": "Closed"}

# new -> in_progress -> scheduled -> closed, closing early when there is nothing to do, rescheduling
# back to in_progress, and reopening a closed request.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("in_progress", "closed"),
    "in_progress": ("scheduled", "closed"),
    "scheduled": ("in_progress", "closed"),
    "closed": ("in_progress",),
}

OUTCOMES = ("consult_booked", "not_a_candidate", "referred_elsewhere", "no_response", "declined", "duplicate")
OUTCOME_LABELS = {
    "consult_booked": "Consultation booked",
    "not_a_candidate": "Not a candidate",
    "referred_elsewhere": "Referred elsewhere",
    "no_response": "No response",
    "declined": "Patient declined",
    "duplicate": "Duplicate request",
}

CONTACT_METHODS = {"phone": "Phone call", "text": "Text message", "email": "Email"}
CONTACT_OUTCOMES = {"reached": "Reached", "voicemail": "Left voicemail", "no_answer": "No answer",
                    "wrong_number": "Wrong number"}


def allowed_next(status: str) -> tuple[str, ...]:
    """The statuses a request in ``status`` may move to."""
    return TRANSITIONS.get(status, ())

# The front desk's protocol for an emergency request, in the order it is done. The ``{number}`` is the
# clinic's emergency number (CLINIC_EMERGENCY_NUMBER).
EMERGENCY_STEPS = {
    "went_to_er": "Asked: they have gone, or are on their way, to emergency care",
    "told_911": "Asked: they had not gone. I told them to call {number} now",
    "told_oncall": "I told the clinician on call",
}
