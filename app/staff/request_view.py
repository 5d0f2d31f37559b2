"""Everything the request page shows, gathered in one place for the detail and print views."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import SelectChoice

from app.casework.call_list import FLAG_WORDS
from app.casework.status import (
    CONTACT_METHODS,
    CONTACT_OUTCOMES,
    EMERGENCY_STEPS,
    OUTCOME_LABELS,
    STATUS_LABELS,
    allowed_next,
)
from app.extensions import db
from app.intake import contact
from app.intake.documents import documents_of, kind_label, patient_said
from app.intake.workflow import DUPLICATE_WINDOW
from app.messaging.patient import MESSAGE_WORDS, channel_for
from app.models import ConsultationRequest, Location, OutboxMessage, RequestEvent, StaffUser, utcnow
from app.scheduling.times import free_times
from app.screening import RULE_VERSION
from app.screening.checklist import visit_checklist
from app.screening.questions import BY_FIELD, describe_by_step
from app.screening.reassessment import reassess
from app.staff.access import ADD_NOTES, EXPORT, WORK_REQUESTS
from app.staff.work_forms import (
    AssignForm,
    BookTimeForm,
    CallbackForm,
    ContactAttemptForm,
    EmergencyStepsForm,
    MessageForm,
    NoteForm,
    ReportReviewForm,
    StatusForm,
    TakeForm,
)
from app.web.booking import booking_settings, clinic_day, day_words, time_words
from app.web.messenger import messaging_settings


def related_requests(req: ConsultationRequest) -> list[ConsultationRequest]:
    """Other requests from the same phone or email within 30 days either side: possible duplicates.

    Matched on the blind indexes: the phone and email themselves are stored encrypted.
    """
    same = [ConsultationRequest.phone_index == req.phone_index]
    if req.email_index:
        same.append(ConsultationRequest.email_index == req.email_index)
    return list(db.session.scalars(
        select(ConsultationRequest)
        .where(or_(*same), ConsultationRequest.id != req.id,
               ConsultationRequest.created_at >= req.created_at - DUPLICATE_WINDOW,
               ConsultationRequest.created_at <= req.created_at + DUPLICATE_WINDOW)
        .order_by(ConsultationRequest.created_at)
        .limit(20)
    ))


def assignee_choices() -> list[SelectChoice]:
    """Active staff who can work requests, plus 'nobody'."""
    people = db.session.scalars(
        select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role.in_(WORK_REQUESTS)).order_by(StaffUser.name)
    )
    return [SelectChoice("", "Nobody"), *(SelectChoice(str(p.id), p.name) for p in people)]


def free_time_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The free times staff may book (no notice needed), grouped by location and day for one select box."""
    times = free_times(db.session, current_app.extensions["clinic"].timezone, now=utcnow(),
                       settings=booking_settings(), notice=timedelta(0))
    names = dict(db.session.execute(select(Location.id, Location.name)).tuples().all()) if times else {}
    groups: dict[str, list[tuple[str, str]]] = {}
    for t in times:
        label = f"{names.get(t.location_id, '')}: {day_words(clinic_day(t.starts_at), 'en')}"
        groups.setdefault(label, []).append((f"{t.location_id}|{t.starts_at.isoformat()}",
                                             time_words(t.starts_at, "en")))
    return list(groups.items())


def request_page(req: ConsultationRequest, *, forms: dict[str, FlaskForm] | None = None,
                 template: str = "staff/request.html", status: int = 200) -> tuple[str, int] | str:
    """Render a request; ``forms`` keeps what a member of staff typed when their save was refused."""
    given = forms or {}
    assign_form = given.get("AssignForm") or AssignForm(formdata=None, assignee=str(req.assignee_id or ""))
    assign_form.assignee.choices = assignee_choices()
    status_form = given.get("StatusForm") or StatusForm(formdata=None)
    status_form.status.choices = [SelectChoice(code, STATUS_LABELS[code]) for code in allowed_next(req.status)]
    work = {
        "assign": assign_form,
        "contact": given.get("ContactAttemptForm") or ContactAttemptForm(formdata=None),
        "status": status_form,
        "note": given.get("NoteForm") or NoteForm(formdata=None),
        "take": TakeForm(formdata=None),
        "callback": given.get("CallbackForm") or CallbackForm(formdata=None),
        "emergency": given.get("EmergencyStepsForm") or EmergencyStepsForm(formdata=None),
        "message": given.get("MessageForm") or MessageForm(formdata=None),
        "book": given.get("BookTimeForm") or BookTimeForm(formdata=None),
    }
    for form in work.values():
        if hasattr(form, "version"):
            form.version.data = req.version  # a refused save can be retried against the current state
    view = reassess(req.screening.answers, req.screening.assessment)
    assessment = view.stored
    page = render_template(
        template, r=req, screening=req.screening, assessment=assessment, current=view, rule_version=RULE_VERSION,
        surgery_type=_surgery_type(req.screening.answers),
        checklist=visit_checklist(assessment.cautions, req.screening.answers),
        sections=describe_by_step(req.screening.answers), related=related_requests(req), forms=work,
        label=contact.label, statuses=STATUS_LABELS, outcomes=OUTCOME_LABELS, methods=CONTACT_METHODS,
        contact_outcomes=CONTACT_OUTCOMES, can_work=current_user.role in WORK_REQUESTS,
        steps_done=steps_done(req), emergency_steps=EMERGENCY_STEPS, flag_words=FLAG_WORDS,
        red_flag_words=_red_flags(req.screening.answers), now=utcnow(),
        can_note=current_user.role in ADD_NOTES, can_export=current_user.role in EXPORT,
        message_channel=channel_for(db.session, req, messaging_settings()), outbox=request_messages(req),
        message_words=MESSAGE_WORDS, documents=documents_of(db.session, req.id), document_kind=kind_label,
        patient_said=patient_said(req.screening.answers), review_form=ReportReviewForm,
        booking=req.active_booking, free_times=free_time_groups() if req.is_open else [],
        booking_links=booking_settings().links, day_words=day_words, time_words=time_words, clinic_day=clinic_day,
    )
    return (page, status) if status != 200 else page


def request_messages(req: ConsultationRequest) -> dict[int, OutboxMessage]:
    """The request's messages to the patient by id, for the timeline's sent/waiting/cancelled state."""
    return {m.id: m for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.request_id == req.id))}


def steps_done(req: ConsultationRequest) -> dict[str, RequestEvent]:
    """Each emergency-protocol step recorded on the request, with the first event that recorded it."""
    done: dict[str, RequestEvent] = {}
    for event in req.events:
        if event.kind == "protocol":
            for step in event.data.get("steps", ()):
                done.setdefault(step, event)
    return done


def _red_flags(answers: dict[str, object]) -> list[tuple[str, str]]:
    """The safety answers the patient ticked, in the question's words."""
    question = BY_FIELD["red_flags"]
    ticked = answers.get("red_flags") or []
    return [(str(code), question.label_for(str(code))) for code in ticked if code != "none"]  # type: ignore[union-attr]


def _surgery_type(answers: dict[str, object]) -> str | None:
    """The kind of back surgery the patient named (caution K6's staff text names it), in the question's words."""
    code = answers.get("prior_surgery_type")
    return BY_FIELD["prior_surgery_type"].label_for(str(code)) if code else None
