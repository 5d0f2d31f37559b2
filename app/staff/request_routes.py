"""One request: its full picture, its timeline, and the work done on it."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta

from flask import abort, current_app, flash, redirect, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import undefer
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from app.casework.audit import record
from app.casework.work import (
    InvalidChange,
    StaleRequest,
    add_note,
    assign,
    change_status,
    log_contact,
    record_emergency_steps,
    set_callback,
)
from app.extensions import db
from app.intake.documents import InvalidDocument, review_report
from app.intake.reference import normalise_reference
from app.messaging.inbound import mark_read
from app.messaging.patient import MessageRefused, after_status_change, send_link, staff_message
from app.models import ConsultationRequest, Document, StaffUser, utcnow
from app.staff import bp
from app.staff.access import ADD_NOTES, READ_REQUESTS, WORK_REQUESTS, client_ip, roles_required
from app.staff.request_view import assignee_choices, request_page
from app.staff.work_forms import (
    AssignForm,
    CallbackForm,
    ContactAttemptForm,
    EmergencyStepsForm,
    MessageForm,
    NoteForm,
    ReportReviewForm,
    StatusForm,
    TakeForm,
)
from app.web.messenger import messaging_settings

STALE_MESSAGE = ("Someone else changed this request while you had it open. Your change was not saved. "
                 "Below is the request as it is now; check it and try again.")


def load(reference: str) -> ConsultationRequest:
    """The request with this reference, or 404."""
    ref = normalise_reference(reference)
    found = db.session.scalar(select(ConsultationRequest).where(ConsultationRequest.reference == ref)) if ref else None
    if found is None:
        abort(404)
    return found


def _audit(action: str, req: ConsultationRequest, **detail: object) -> None:
    record(db.session, action, now=utcnow(), staff_id=current_user.id, ip=client_ip(),
           target_type="consultation_request", target_id=req.id, detail=dict(detail))


@bp.get("/requests/<reference>")
@roles_required(*READ_REQUESTS)
def request_detail(reference: str) -> str:
    """Contact details, answers in words, assessment, duplicates, timeline and the work forms."""
    req = load(reference)
    _audit("view_request", req)
    page = request_page(req)
    # The patient's texts are shown on this page: they count as read by whoever opened it.
    mark_read(db.session, req.id, current_user.id, utcnow())
    db.session.commit()
    return page


@bp.get("/requests/<reference>/documents/<int:document_id>")
@roles_required(*READ_REQUESTS)
def request_document(reference: str, document_id: int) -> Response:
    """One document the patient sent, shown in the browser; audited as a view, never cached."""
    req = load(reference)
    document = db.session.scalar(select(Document).where(Document.id == document_id, Document.request_id == req.id)
                                 .options(undefer(Document.data)))
    if document is None:
        abort(404)
    _audit("view_document", req, document_id=document.id, kind=document.kind)
    db.session.commit()
    response = send_file(io.BytesIO(document.data), mimetype=document.content_type, download_name=document.filename,
                         conditional=False, etag=False)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/requests/<reference>/documents/<int:document_id>/review")
@roles_required(*ADD_NOTES)
def request_document_review(reference: str, document_id: int) -> str | Response:
    """Record what a scan report says (scan in the last 12 months, thickened ligament)."""
    form = ReportReviewForm()
    req = load(reference)
    document = db.session.scalar(select(Document).where(Document.id == document_id, Document.request_id == req.id))
    if document is None:
        abort(404)
    if not form.validate_on_submit():
        return _shown_again(req, form, 400)
    try:
        review_report(document, mri_recent=form.answer(form.mri_recent.data),
                      ligament_reported=form.answer(form.ligament_reported.data), reviewer_id=current_user.id,
                      now=utcnow())
    except InvalidDocument as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _shown_again(load(reference), form, 400)
    _audit("change_request", req, change="document_review", document_id=document.id)
    db.session.commit()
    flash("Saved.", "success")
    return redirect(url_for("staff.request_detail", reference=req.reference, _anchor="documents-heading"), code=303)


@bp.post("/requests/<reference>/documents-link")
@roles_required(*WORK_REQUESTS)
def request_documents_link(reference: str) -> str | Response:
    """Send the patient a link to send their scan report or insurance card (text if allowed, else email)."""
    form = TakeForm()  # a button: the CSRF token and the version the page was loaded at
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")

    def link_url(token: str) -> str:
        return base + url_for("public.document_link", token=token)

    return apply_change(reference, form, lambda req: send_link(
        db.session, req, messaging_settings(), utcnow(), current_user, purpose="documents",
        expected_version=form.version.data, valid_for=timedelta(days=int(current_app.config["PATIENT_LINK_DAYS"])),
        link_url=link_url),
        "documents_link")


@bp.get("/requests/<reference>/print")
@roles_required(*READ_REQUESTS)
def request_print(reference: str) -> str:
    """A one-page printable summary."""
    req = load(reference)
    _audit("view_request", req, view="print")
    db.session.commit()
    return request_page(req, template="staff/request_print.html")


def _shown_again(req: ConsultationRequest, form: FlaskForm, status: int) -> tuple[str, int] | str:
    """The request page again after a refused form: it shows the patient's details, so it is audited as a view."""
    _audit("view_request", req, after="refused")
    db.session.commit()
    return request_page(req, forms={type(form).__name__: form}, status=status)


def apply_change(reference: str, form: FlaskForm, change: Callable[[ConsultationRequest], None],
                 what: str) -> str | Response:
    """Validate, apply one change, audit it in the same transaction, and redirect; refuse stale saves."""
    req = load(reference)
    if not form.validate_on_submit():
        return _shown_again(req, form, 400)
    try:
        change(req)
        _audit("change_request", req, change=what)
        db.session.commit()
    except (StaleRequest, StaleDataError):
        db.session.rollback()
        flash(STALE_MESSAGE, "error")
        return _shown_again(load(reference), form, 409)
    except (InvalidChange, MessageRefused) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _shown_again(load(reference), form, 400)
    flash("Saved.", "success")
    return redirect(url_for("staff.request_detail", reference=req.reference, _anchor="work-heading"), code=303)


@bp.post("/requests/<reference>/assign")
@roles_required(*WORK_REQUESTS)
def request_assign(reference: str) -> str | Response:
    """Assign the request (or unassign it)."""
    form = AssignForm()
    form.assignee.choices = assignee_choices()

    def change(req: ConsultationRequest) -> None:
        assignee = db.session.get(StaffUser, int(form.assignee.data)) if form.assignee.data else None
        assign(req, assignee, actor=current_user, now=utcnow(), expected_version=form.version.data)

    return apply_change(reference, form, change, "assign")


@bp.post("/requests/<reference>/assign-to-me")
@roles_required(*WORK_REQUESTS)
def request_take(reference: str) -> str | Response:
    """Assign the request to the person who clicked (one click, from the call list or the request page)."""
    form = TakeForm()
    return apply_change(reference, form, lambda req: assign(
        req, current_user, actor=current_user, now=utcnow(), expected_version=form.version.data), "assign")


@bp.post("/requests/<reference>/callback")
@roles_required(*WORK_REQUESTS)
def request_callback(reference: str) -> str | Response:
    """Set or clear the time the patient asked to be called back."""
    form = CallbackForm()
    tz = current_app.extensions["clinic"].timezone
    return apply_change(reference, form, lambda req: set_callback(
        req, form.callback_at(tz), actor=current_user, now=utcnow(), expected_version=form.version.data), "callback")


@bp.post("/requests/<reference>/emergency")
@roles_required(*WORK_REQUESTS)
def request_emergency_steps(reference: str) -> str | Response:
    """Record the steps of the emergency protocol that were done."""
    form = EmergencyStepsForm()
    return apply_change(reference, form, lambda req: record_emergency_steps(
        req, list(form.steps.data or []), actor=current_user, now=utcnow(), note=form.note.data,
        expected_version=form.version.data), "emergency_steps")


@bp.post("/requests/<reference>/contact")
@roles_required(*WORK_REQUESTS)
def request_contact(reference: str) -> str | Response:
    """Log a contact attempt."""
    form = ContactAttemptForm()
    return apply_change(reference, form, lambda req: log_contact(
        req, method=form.method.data, outcome=form.outcome.data, note=form.note.data, actor=current_user,
        now=utcnow(), expected_version=form.version.data), "contact_attempt")


@bp.post("/requests/<reference>/status")
@roles_required(*WORK_REQUESTS)
def request_status(reference: str) -> str | Response:
    """Change the status along an allowed transition."""
    form = StatusForm()
    tz = current_app.extensions["clinic"].timezone

    def change(req: ConsultationRequest) -> None:
        before, now = (req.status, req.scheduled_for), utcnow()
        change_status(req, form.status.data, actor=current_user, now=now, expected_version=form.version.data,
                      scheduled_for=form.appointment(tz), outcome=form.outcome.data or None, note=form.note.data)
        after_status_change(db.session, req, before, messaging_settings(), now, current_user)

    return apply_change(reference, form, change, "status")


@bp.post("/requests/<reference>/message")
@roles_required(*WORK_REQUESTS)
def request_message(reference: str) -> str | Response:
    """Send the patient a ready-made message or a short text (through the outbox)."""
    form = MessageForm()
    own = form.message.data == "own"
    return apply_change(reference, form, lambda req: staff_message(
        db.session, req, messaging_settings(), utcnow(), current_user, expected_version=form.version.data,
        template=None if own else form.message.data, text=form.text.data if own else None), "message")


@bp.post("/requests/<reference>/note")
@roles_required(*ADD_NOTES)
def request_note(reference: str) -> str | Response:
    """Add a note to the timeline."""
    form = NoteForm()
    return apply_change(reference, form, lambda req: add_note(req, form.text.data or "", actor=current_user,
                                                              now=utcnow()), "note")
