"""The patient books a consultation time: one question per page (location, day, time), then check and book.

Everything the pages need is in the link's token and the query string (a location id, a day, a time), so
they work without JavaScript and a page can be reloaded or gone back to. The link works once: booking uses it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext, ngettext
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response as BaseResponse

from app.casework.work import InvalidChange
from app.extensions import db
from app.intake.links import request_for_link, was_used
from app.intake.workflow import assessment_of
from app.models import Booking, ConsultationRequest, Draft, Location, Screening
from app.public import bp
from app.public.drafts import now
from app.public.forms import ChoiceForm, ConfirmForm
from app.public.routes import needs_result, see_other
from app.scheduling.booking import TimeTaken, book_by_link, booking_link
from app.scheduling.times import FreeTime, free_times, times_by_day
from app.screening.checklist import visit_checklist
from app.screening.questions import Option
from app.web.booking import booking_settings, clinic_day, day_words, time_words
from app.web.messenger import messaging_settings

BOOKED_KEY = "booked"  # the booking this browser just made, for its confirmation page


class LinkUsed(Exception):
    """The booking link has booked a visit already."""


def _request(token: str) -> ConsultationRequest:
    found = request_for_link(db.session, token, "booking", now())
    if found is None:
        if was_used(db.session, token, "booking"):
            raise LinkUsed
        abort(410)
    if not found.is_open:
        abort(410)  # closed since the link was sent: nothing to book
    return found


@bp.errorhandler(LinkUsed)
def link_used(_: LinkUsed) -> tuple[str, int]:
    """A booking link that booked a visit (also the answer to a second click on "Book this time")."""
    db.session.rollback()
    return render_template("public/link_used.html"), 410


def _times(location_id: int | None = None, day: date | None = None) -> list[FreeTime]:
    return free_times(db.session, current_app.extensions["clinic"].timezone, now=now(), settings=booking_settings(),
                      location_id=location_id, day=day)


def _locations(times: list[FreeTime]) -> list[Location]:
    ids = {t.location_id for t in times}
    return list(db.session.scalars(select(Location).where(Location.id.in_(ids)).order_by(Location.name))) if ids else []


def _location_arg() -> int | None:
    value = request.args.get("location", "")
    return int(value) if value.isdigit() else None


def _day_arg() -> date | None:
    try:
        return date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return None


def _page(template: str, status: int = 200, **context: object) -> tuple[str, int]:
    page = render_template(template, **context)
    db.session.commit()
    return page, status


@bp.errorhandler(410)
def link_gone(_: Exception) -> tuple[str, int]:
    """A link that expired, was used, or never existed: say so, and how to get a new one."""
    db.session.rollback()
    return render_template("public/link_expired.html"), 410


@bp.route("/book/<token>", methods=["GET", "POST"])
def book_location(token: str) -> tuple[str, int] | BaseResponse:
    """Where: one radio per location that has free times (skipped when there is one)."""
    _request(token)
    times = _times()
    places = _locations(times)
    if not places:
        return _page("public/book_none.html")
    if len(places) == 1:
        return redirect(url_for("public.book_day", token=token, location=places[0].id), code=303)
    form = ChoiceForm()
    options = [Option(str(p.id), p.name, p.address) for p in places]
    if form.validate_on_submit():
        if form.choice.data in {o.code for o in options}:
            return redirect(url_for("public.book_day", token=token, location=form.choice.data), code=303)
        form.choice.errors = [gettext("Choose where you want to have your visit")]
    form.choice.data = form.choice.data or request.args.get("location")
    return _page("public/book_question.html", 400 if form.errors else 200, form=form, options=options,
                 question=gettext("Where do you want to have your visit?"), back=None)


@bp.route("/book/<token>/day", methods=["GET", "POST"])
def book_day(token: str) -> tuple[str, int] | BaseResponse:
    """Which day: the days with a free time at the location, with how many times each has."""
    _request(token)
    location_id = _location_arg()
    every = _times()
    times = [t for t in every if t.location_id == location_id]
    if not times:
        return redirect(url_for("public.book_location", token=token), code=303)
    options = [Option(d.isoformat(), day_words(d), ngettext("%(num)d time free", "%(num)d times free", len(free)))
               for d, free in times_by_day(times, current_app.extensions["clinic"].timezone).items()]
    form = ChoiceForm()
    if form.validate_on_submit():
        if form.choice.data in {o.code for o in options}:
            return redirect(url_for("public.book_time", token=token, location=location_id, day=form.choice.data),
                            code=303)
        form.choice.errors = [gettext("Choose a day")]
    form.choice.data = form.choice.data or request.args.get("day")
    several = len({t.location_id for t in every}) > 1
    return _page("public/book_question.html", 400 if form.errors else 200, form=form, options=options,
                 question=gettext("Which day suits you?"),
                 back=url_for("public.book_location", token=token, location=location_id) if several else None)


def _time_page(token: str, location_id: int, day: date, form: ChoiceForm, status: int) -> tuple[str, int]:
    options = [Option(t.starts_at.isoformat(), time_words(t.starts_at)) for t in _times(location_id, day)]
    # The form always goes to the time page, also when shown from the check page after a time was taken.
    return _page("public/book_question.html", status, form=form, options=options,
                 action=url_for("public.book_time", token=token, location=location_id, day=day.isoformat()),
                 question=gettext("What time on %(day)s?", day=day_words(day)),
                 back=url_for("public.book_day", token=token, location=location_id, day=day.isoformat()))


@bp.route("/book/<token>/time", methods=["GET", "POST"])
def book_time(token: str) -> tuple[str, int] | BaseResponse:
    """Which time on the day chosen."""
    _request(token)
    location_id, day = _location_arg(), _day_arg()
    if location_id is None or day is None or not _times(location_id, day):
        return redirect(url_for("public.book_day", token=token, location=location_id or ""), code=303)
    form = ChoiceForm()
    if form.validate_on_submit():
        if form.choice.data in {t.starts_at.isoformat() for t in _times(location_id, day)}:
            return redirect(url_for("public.book_check", token=token, location=location_id, at=form.choice.data),
                            code=303)
        form.choice.errors = [gettext("Choose a time")]
    form.choice.data = form.choice.data or request.args.get("at")
    return _time_page(token, location_id, day, form, 400 if form.errors else 200)


def _at_arg() -> datetime | None:
    try:
        moment = datetime.fromisoformat(request.args.get("at", ""))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


@bp.route("/book/<token>/check", methods=["GET", "POST"])
def book_check(token: str) -> tuple[str, int] | BaseResponse:
    """Check the place, day and time, then book it; a time taken meanwhile goes back to the times, with why."""
    _request(token)
    location_id, at = _location_arg(), _at_arg()
    location = db.session.get(Location, location_id) if location_id else None
    if location is None or at is None:
        return redirect(url_for("public.book_location", token=token), code=303)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            booking = _book(token, location.id, at)
        except TimeTaken as exc:
            db.session.rollback()
            choice = ChoiceForm(formdata=None)
            choice.choice.errors = [gettext(exc.message)]
            return _time_page(token, location.id, clinic_day(at), choice, 409)
        except InvalidChange:
            abort(410)  # the request was closed while the patient chose
        if booking is None:  # used a moment ago (a second click), or expired while the patient looked
            db.session.rollback()
            _request(token)
            abort(410)
        db.session.commit()
        session[BOOKED_KEY] = booking.id
        return redirect(url_for("public.booked"), code=303)
    day = clinic_day(at)
    return _page("public/book_check.html", form=form, location=location, day=day_words(day), time=time_words(at),
                 several=len({t.location_id for t in _times()}) > 1,
                 change_day=url_for("public.book_day", token=token, location=location.id, day=day.isoformat()),
                 change_time=url_for("public.book_time", token=token, location=location.id, day=day.isoformat(),
                                     at=at.isoformat()),
                 change_location=url_for("public.book_location", token=token, location=location.id))


def _book(token: str, location_id: int, at: datetime, *, retry: bool = True) -> Booking | None:
    """Book through the link; once more if a colleague saved a change to the request at the same moment."""
    try:
        booking = book_by_link(db.session, token, location_id, at, tz=current_app.extensions["clinic"].timezone,
                               settings=booking_settings(), messaging=messaging_settings(), now=now())
        db.session.flush()
    except StaleDataError:
        db.session.rollback()  # the link is unused again; the request is read afresh
        if not retry:
            raise
        return _book(token, location_id, at, retry=False)
    return booking


@bp.get("/book/booked")
def booked() -> tuple[str, int] | BaseResponse:
    """The visit this browser just booked: when and where, and what to bring (the result's checklist)."""
    booking = db.session.get(Booking, session.get(BOOKED_KEY) or 0)
    if booking is None or booking.cancelled_at is not None:
        abort(410)
    req = booking.request
    checklist = visit_checklist(assessment_of(req.screening).cautions, req.screening.answers)
    return _page("public/booked.html", booking=booking, consultation=req, day=day_words(clinic_day(booking.starts_at)),
                 time=time_words(booking.starts_at), checklist=checklist)


@bp.post("/request/book")
@needs_result
def book_after_request(draft: Draft, screening: Screening) -> BaseResponse:
    """Right after sending a request (when the clinic allows it for its category): a booking link, opened now."""
    req = screening.request
    if req is None or not ConfirmForm().validate_on_submit():
        return see_other("public.request_sent")
    if not booking_settings().right_after_request(req.category):
        abort(404)
    token = booking_link(db.session, req, now=now(), settings=booking_settings(), actor=None)
    db.session.commit()
    return see_other("public.book_location", token=token)
