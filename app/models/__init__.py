"""Database models. Import them from here: ``from app.models import ConsultationRequest``."""

from app.models.audit import AUDIT_ACTIONS, AuditEvent
from app.models.base import UTCDateTime, utcnow
from app.models.document import Document, PatientLink
from app.models.messaging import DailyJob, InboundText, TextOptOut
from app.models.outbox import CHANNELS, OutboxMessage
from app.models.patient import (
    CATEGORY_RANK,
    OPEN_STATUSES,
    ConsultationRequest,
    Draft,
    EmergencyScreenCount,
    RequestStatusCount,
    Screening,
    SurnameKey,
)
from app.models.schedule import Booking, Location, ScheduleException, WeeklyHours
from app.models.staff import ROLES, RecoveryCode, StaffSession, StaffUser
from app.models.work import EVENT_KINDS, RequestEvent

__all__ = [
    "AUDIT_ACTIONS",
    "CATEGORY_RANK",
    "CHANNELS",
    "EVENT_KINDS",
    "OPEN_STATUSES",
    "ROLES",
    "AuditEvent",
    "Booking",
    "ConsultationRequest",
    "DailyJob",
    "Document",
    "Draft",
    "EmergencyScreenCount",
    "InboundText",
    "Location",
    "OutboxMessage",
    "PatientLink",
    "RecoveryCode",
    "RequestEvent",
    "RequestStatusCount",
    "ScheduleException",
    "Screening",
    "StaffSession",
    "StaffUser",
    "SurnameKey",
    "TextOptOut",
    "UTCDateTime",
    "WeeklyHours",
    "utcnow",
]
