"""Consultation times from the console: book, move or cancel a time on a request, send a booking link, and
the day view of booked consultations."""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.casework.audit import record
from app.extensions import db
from app.models import ConsultationRequest, utcnow
from app.scheduling.booking import TimeTaken, book, bookings_on, cancel, send_booking_link
from app.staff import bp
from app.staff.access import READ_REQUESTS, WORK_REQUESTS, client_ip, roles_required
from app.staff.request_routes import apply_change
from app.staff.work_forms import BookTimeForm, TakeForm
from app.web.booking import booking_settings, clinic_day
from app.web.messenger import messaging_settings


@bp.post("/requests/<reference>/book")
@roles_required(*WORK_REQUESTS)
def request_book(reference: str) -> str | Response:
    """Book (or move the visit to) a free time chosen from the list."""
    form = BookTimeForm()

    def change(req: ConsultationRequest) -> None:
        chosen = form.chosen()
        if chosen is None:
            raise TimeTaken
        book(db.session, req, chosen[0], chosen[1], tz=current_app.extensions["clinic"].timezone,
             settings=booking_settings(), messaging=messaging_settings(), now=utcnow(), actor=current_user,
             expected_version=form.version.data)

    return apply_change(reference, form, change, "book")


@bp.post("/requests/<reference>/booking/cancel")
@roles_required(*WORK_REQUESTS)
def request_booking_cancel(reference: str) -> str | Response:
    """Cancel the booked time: it is free again, and the reminders not yet sent are cancelled."""
    form = TakeForm()
    return apply_change(reference, form, lambda req: cancel(
        db.session, req, messaging=messaging_settings(), now=utcnow(), actor=current_user,
        expected_version=form.version.data), "booking_cancel")


@bp.post("/requests/<reference>/booking-link")
@roles_required(*WORK_REQUESTS)
def request_booking_link(reference: str) -> str | Response:
    """Send the patient a link to choose a time themselves (text if allowed, else email)."""
    form = TakeForm()
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return apply_change(reference, form, lambda req: send_booking_link(
        db.session, req, settings=booking_settings(), messaging=messaging_settings(), now=utcnow(),
        actor=current_user, expected_version=form.version.data,
        link_url=lambda token: base + url_for("public.book_location", token=token)), "booking_link")


@bp.get("/day")
@roles_required(*READ_REQUESTS)
def day_view() -> str:
    """The consultations booked on one day, per location, in time order (print-friendly)."""
    tz = current_app.extensions["clinic"].timezone
    try:
        day = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        day = clinic_day(utcnow())
    bookings = bookings_on(db.session, day, tz)
    record(db.session, "view_day", now=utcnow(), staff_id=current_user.id, ip=client_ip(), target_type="day",
           target_id=day.isoformat(), detail={"bookings": len(bookings)})
    page = render_template("staff/day.html", day=day, bookings=bookings, previous=day - timedelta(days=1),
                           following=day + timedelta(days=1))
    db.session.commit()
    return page

