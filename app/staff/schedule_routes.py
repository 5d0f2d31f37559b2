"""Administration of consultation times: locations, the weekly template and exceptions (admins only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from app.casework.audit import record
from app.extensions import db
from app.models import Location, ScheduleException, WeeklyHours, utcnow
from app.scheduling.times import WEEKDAYS, ScheduleError, add_exception, add_hours, add_location
from app.staff import bp
from app.staff.access import ADMINISTER, client_ip, roles_required
from app.staff.forms import AccountActionForm, ExceptionForm, HoursForm, LocationForm
from app.web.booking import booking_settings, clinic_day


def _audit(change: str, **detail: object) -> None:
    record(db.session, "schedule_change", now=utcnow(), staff_id=current_user.id, ip=client_ip(),
           target_type="schedule", target_id=None, detail={"change": change, **detail})


def _page(status: int = 200, **forms: object) -> tuple[str, int]:
    locations = db.session.scalars(select(Location).order_by(Location.name)).all()
    hours = db.session.scalars(select(WeeklyHours).order_by(WeeklyHours.location_id, WeeklyHours.weekday,
                                                            WeeklyHours.start)).all()
    exceptions = db.session.scalars(select(ScheduleException).where(ScheduleException.last_day >= clinic_day(utcnow()))
                                    .order_by(ScheduleException.first_day)).all()
    choices = [SelectChoice(str(loc.id), loc.name) for loc in locations if loc.active]
    hours_form = forms.get("hours") or HoursForm(formdata=None)
    hours_form.location.choices = choices
    exception_form = forms.get("exception") or ExceptionForm(formdata=None)
    exception_form.location.choices = [SelectChoice("", "Every location"), *choices]
    page = render_template("staff/schedule.html", locations=locations, hours=hours, exceptions=exceptions,
                           weekdays=WEEKDAYS, location_form=forms.get("location") or LocationForm(formdata=None),
                           hours_form=hours_form, exception_form=exception_form, remove_form=AccountActionForm(),
                           settings=booking_settings())
    return page, status


def _location(value: str | None) -> Location | None:
    """The location a form's select names, or None (nothing chosen, or not a location)."""
    return db.session.get(Location, int(value)) if value and value.isdigit() else None


def _save(form: FlaskForm, name: str, make: Callable[[], Any], change: str,
          message: Callable[[Any], str]) -> tuple[str, int] | Response:
    """Validate ``form``, ``make`` the row, audit and say it; or show the page again with why not (nothing kept)."""
    if form.validate_on_submit():
        try:
            row = make()
            db.session.flush()  # its id, for the audit row
        except ScheduleError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            _audit(change, id=row.id)
            return _done(message(row))
    return _page(400, **{name: form})


def _done(message: str) -> Response:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("staff.schedule"), code=303)


@bp.get("/admin/schedule")
@roles_required(*ADMINISTER)
def schedule() -> tuple[str, int]:
    """Locations, the weekly template and the exceptions to come, with the forms to change them."""
    return _page()


@bp.post("/admin/schedule/locations")
@roles_required(*ADMINISTER)
def schedule_location() -> tuple[str, int] | Response:
    """Add a location."""
    form = LocationForm()
    return _save(form, "location", lambda: add_location(
        db.session, form.name.data or "", form.address.data or "", form.phone.data or ""), "location_add",
        lambda location: f"Location {location.name} added. Now add its weekly hours.")


def _offer_times(location_id: int, active: bool) -> Response:
    location = db.get_or_404(Location, location_id)
    if not AccountActionForm().validate_on_submit():
        abort(400)
    location.active = active
    _audit("location_open" if active else "location_close", id=location.id)
    return _done(f"{location.name}: times are offered again." if active else
                 f"{location.name}: no more times are offered. Visits already booked there stay booked.")


@bp.post("/admin/schedule/locations/<int:location_id>/close")
@roles_required(*ADMINISTER)
def schedule_location_close(location_id: int) -> Response:
    """Stop offering times at a location; visits already booked there stay booked."""
    return _offer_times(location_id, False)


@bp.post("/admin/schedule/locations/<int:location_id>/open")
@roles_required(*ADMINISTER)
def schedule_location_open(location_id: int) -> Response:
    """Offer a location's times again."""
    return _offer_times(location_id, True)


@bp.post("/admin/schedule/hours")
@roles_required(*ADMINISTER)
def schedule_hours() -> tuple[str, int] | Response:
    """Add a row to the weekly template."""
    form = HoursForm()
    form.location.choices = [SelectChoice(str(loc.id), loc.name) for loc in db.session.scalars(select(Location))]

    def make() -> WeeklyHours:
        location = _location(form.location.data)
        if location is None:
            raise ScheduleError("Choose a location")
        return add_hours(db.session, location, int(form.weekday.data), form.start.data, form.end.data,
                         form.visit_minutes.data, form.seats.data)

    return _save(form, "hours", make, "hours_add",
                 lambda row: f"Hours added: {WEEKDAYS[row.weekday]} {row.start:%H:%M} to {row.end:%H:%M}.")


@bp.post("/admin/schedule/hours/<int:hours_id>/remove")
@roles_required(*ADMINISTER)
def schedule_hours_remove(hours_id: int) -> Response:
    """Remove a row of the weekly template (times already booked stay booked)."""
    row = db.get_or_404(WeeklyHours, hours_id)
    if not AccountActionForm().validate_on_submit():
        abort(400)
    db.session.delete(row)
    _audit("hours_remove", id=hours_id)
    return _done("Hours removed. Times already booked in them stay booked.")


@bp.post("/admin/schedule/exceptions")
@roles_required(*ADMINISTER)
def schedule_exception() -> tuple[str, int] | Response:
    """Close days (or hours) to booking: a holiday, a doctor away."""
    form = ExceptionForm()
    form.location.choices = [SelectChoice("", "Every location"),
                             *(SelectChoice(str(loc.id), loc.name) for loc in db.session.scalars(select(Location)))]

    def make() -> ScheduleException:
        location = _location(form.location.data)
        if form.location.data and location is None:
            raise ScheduleError("Choose a location, or every location")
        return add_exception(db.session, location, form.first_day.data, form.last_day.data or form.first_day.data,
                             form.start.data, form.end.data, form.reason.data or "")

    return _save(form, "exception", make, "exception_add",
                 lambda row: f"No times will be offered: {row.reason}. Visits already booked then stay booked; "
                             "check the day list.")


@bp.post("/admin/schedule/exceptions/<int:exception_id>/remove")
@roles_required(*ADMINISTER)
def schedule_exception_remove(exception_id: int) -> Response:
    """Remove an exception: its times are offered again."""
    exception = db.get_or_404(ScheduleException, exception_id)
    if not AccountActionForm().validate_on_submit():
        abort(400)
    db.session.delete(exception)
    _audit("exception_remove", id=exception_id)
    return _done("Exception removed. Its times are offered again.")
