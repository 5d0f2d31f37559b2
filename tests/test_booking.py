"""Consultation times (issue 25): the weekly template, exceptions and clock changes, booking by staff and by
the patient through a link, and the database refusing a double booking."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app.casework.retention import RetentionPolicy, purge
from app.extensions import db
from app.models import AuditEvent, Booking, ConsultationRequest, Location, OutboxMessage, RequestEvent, utcnow
from app.scheduling.booking import TimeTaken, book
from app.scheduling.times import BookingSettings, add_exception, add_hours, add_location, free_times
from app.web.messenger import messaging_settings
from tests.factories import login, make_staff, seed_request
from tests.journey import CONTACT, csrf_token

LA = ZoneInfo("America/Los_Angeles")
SCHEDULE = "/staff/admin/schedule"


def signed_in(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    login(client, make_staff(app, role))
    return client


def every_day_mornings(app: Flask, seats: int = 1) -> int:
    """One location open every day 09:00 to 12:00 with 30-minute visits; return its id."""
    with app.app_context():
        place = add_location(db.session, "Main clinic", "100 Example Street, San Francisco", "")
        db.session.flush()
        for weekday in range(7):
            add_hours(db.session, place, weekday, time(9), time(12), 30, seats)
        db.session.commit()
        return place.id


def local(moments: list[datetime]) -> list[str]:
    return [m.astimezone(LA).strftime("%Y-%m-%d %H:%M") for m in moments]


# --- free times -------------------------------------------------------------------------------------

def test_the_weekly_template_offers_times_on_its_days_less_a_holiday(app: Flask) -> None:
    with app.app_context():
        place = add_location(db.session, "Main clinic", "100 Example Street", "")
        db.session.flush()
        add_hours(db.session, place, 1, time(9), time(10, 30), 30, 1)  # Tuesdays
        add_exception(db.session, None, date(2026, 12, 22), date(2026, 12, 22), None, None, "Holiday")
        db.session.flush()
        now = datetime(2026, 12, 14, 12, tzinfo=UTC)  # a Monday
        times = free_times(db.session, LA, now=now, settings=BookingSettings(days_ahead=15))
        assert local([t.starts_at for t in times]) == [
            "2026-12-15 09:00", "2026-12-15 09:30", "2026-12-15 10:00",  # Dec 22 is the holiday
            "2026-12-29 09:00", "2026-12-29 09:30", "2026-12-29 10:00",
        ]
        # A doctor away one morning hour at this location only.
        add_exception(db.session, place, date(2026, 12, 15), date(2026, 12, 15), time(9, 15), time(10), "Dr. Lee")
        db.session.flush()
        times = free_times(db.session, LA, now=now, settings=BookingSettings(days_ahead=7))
        assert local([t.starts_at for t in times]) == ["2026-12-15 10:00"]


def test_clock_changes_skip_the_missing_hour_and_offer_the_repeated_one_once(app: Flask) -> None:
    with app.app_context():
        place = add_location(db.session, "Main clinic", "100 Example Street", "")
        db.session.flush()
        add_hours(db.session, place, 6, time(1), time(4), 60, 1)  # Sundays 01:00 to 04:00, an hour each
        db.session.flush()
        settings = BookingSettings(days_ahead=1, notice=timedelta(0))
        spring = free_times(db.session, LA, now=datetime(2026, 3, 8, 7, tzinfo=UTC), settings=settings)
        # 2026-03-08: 02:00 does not exist in Los Angeles; 01:00 is PST (UTC-8), 03:00 is PDT (UTC-7).
        assert [t.starts_at for t in spring] == [datetime(2026, 3, 8, 9, tzinfo=UTC),
                                                 datetime(2026, 3, 8, 10, tzinfo=UTC)]
        autumn = free_times(db.session, LA, now=datetime(2026, 11, 1, 7, tzinfo=UTC), settings=settings)
        # 2026-11-01: 01:00 happens twice; offered once, at its first (PDT, UTC-7) occurrence.
        assert [t.starts_at for t in autumn] == [datetime(2026, 11, 1, 8, tzinfo=UTC),
                                                 datetime(2026, 11, 1, 10, tzinfo=UTC),
                                                 datetime(2026, 11, 1, 11, tzinfo=UTC)]
        assert all(t.ends_at - t.starts_at == timedelta(hours=1) for t in spring + autumn)


# --- the admin sets the template --------------------------------------------------------------------

def test_an_admin_sets_a_location_weekly_hours_and_a_holiday(app: Flask) -> None:
    admin = signed_in(app, "admin")
    token = csrf_token(admin.get(SCHEDULE).text)
    assert admin.post(f"{SCHEDULE}/locations", data={"csrf_token": token, "place-name": "Main clinic",
                                                     "place-address": "100 Example Street"}).status_code == 303
    with app.app_context():
        place_id = db.session.scalars(select(Location.id)).one()
    tomorrow = utcnow().astimezone(LA).date() + timedelta(days=2)
    sent = admin.post(f"{SCHEDULE}/hours", data={"csrf_token": token, "hours-location": str(place_id),
                                                  "hours-weekday": str(tomorrow.weekday()), "hours-start": "09:00",
                                                  "hours-end": "10:00", "hours-visit_minutes": "30",
                                                  "hours-seats": "1"})
    assert sent.status_code == 303
    page = admin.get(SCHEDULE).text
    assert "09:00 to 10:00" in page and "30 minutes" in page
    # Overlapping hours and an end before the start are refused with the reason, nothing stored.
    overlap = admin.post(f"{SCHEDULE}/hours", data={"csrf_token": token, "hours-location": str(place_id),
                                                     "hours-weekday": str(tomorrow.weekday()), "hours-start": "09:30",
                                                     "hours-end": "11:00", "hours-visit_minutes": "30",
                                                     "hours-seats": "1"})
    assert overlap.status_code == 400 and "overlap" in overlap.text
    backwards = admin.post(f"{SCHEDULE}/hours", data={"csrf_token": token, "hours-location": str(place_id),
                                                       "hours-weekday": "0", "hours-start": "12:00",
                                                       "hours-end": "09:00", "hours-visit_minutes": "30",
                                                       "hours-seats": "1"})
    assert backwards.status_code == 400 and "must end after they start" in backwards.text
    tampered = admin.post(f"{SCHEDULE}/exceptions", data={"csrf_token": token, "closed-location": "x",
                                                           "closed-first_day": tomorrow.isoformat(),
                                                           "closed-reason": "Holiday"})
    assert tampered.status_code == 400 and "Choose a location, or every location" in tampered.text
    with app.app_context():
        assert len(free_times(db.session, LA, now=utcnow(), settings=BookingSettings())) >= 2
    holiday = admin.post(f"{SCHEDULE}/exceptions", data={"csrf_token": token, "closed-location": "",
                                                          "closed-first_day": tomorrow.isoformat(),
                                                          "closed-reason": "Holiday"})
    assert holiday.status_code == 303
    assert "Holiday" in admin.get(SCHEDULE).text
    with app.app_context():
        days = {t.starts_at.astimezone(LA).date() for t in free_times(db.session, LA, now=utcnow(),
                                                                         settings=BookingSettings())}
        assert tomorrow not in days
        changes = db.session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "schedule_change")).all()
        assert [c["change"] for c in changes] == ["location_add", "hours_add", "exception_add"]
    assert signed_in(app, "frontdesk").get(SCHEDULE).status_code == 403
    # Closing the location offers no more times there; opening it again offers them.
    assert admin.post(f"{SCHEDULE}/locations/{place_id}/close", data={"csrf_token": token}).status_code == 303
    with app.app_context():
        assert free_times(db.session, LA, now=utcnow(), settings=BookingSettings()) == []
    assert admin.post(f"{SCHEDULE}/locations/{place_id}/open", data={"csrf_token": token}).status_code == 303
    with app.app_context():
        assert free_times(db.session, LA, now=utcnow(), settings=BookingSettings()) != []


# --- the patient books through a link ---------------------------------------------------------------

def send_link(app: Flask, staff: FlaskClient, reference: str) -> str:
    page = staff.get(f"/staff/requests/{reference}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    sent = staff.post(f"/staff/requests/{reference}/booking-link",
                      data={"csrf_token": csrf_token(page), "version": version})
    assert sent.status_code == 303, sent.text
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "booking_link")
                                     .order_by(OutboxMessage.id.desc())).first()
        assert message is not None
        link = re.search(r"http://\S+/book/\S+", message.body).group(0)  # type: ignore[union-attr]
    assert reference not in link
    return link.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def choose(phone: FlaskClient, path: str, value: str) -> str:
    page = phone.get(path)
    assert page.status_code == 200, page.text
    answer = phone.post(path, data={"csrf_token": csrf_token(page.text), "choice": value})
    assert answer.status_code == 303, answer.text
    return answer.headers["Location"]


def first_radio(html: str) -> str:
    return re.search(r'name="choice" type="radio"\s+value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_the_patient_books_through_a_link_which_then_stops_working(app: Flask) -> None:
    every_day_mornings(app)
    reference = seed_request(app, email="ana@example.com")
    staff = signed_in(app, "frontdesk")
    path = send_link(app, staff, reference)
    phone = app.test_client()
    day_page = phone.get(path, follow_redirects=True)  # one location: straight to the day
    assert "Which day suits you?" in day_page.text and "times free" in day_page.text
    time_path = choose(phone, day_page.request.path + "?" + day_page.request.query_string.decode(),
                       first_radio(day_page.text))
    times = phone.get(time_path).text
    assert "What time on" in times and "9:00 AM" in times
    check_path = choose(phone, time_path, first_radio(times))
    check = phone.get(check_path).text
    assert "Check your visit before you book it" in check and "Main clinic" in check
    booked = phone.post(check_path, data={"csrf_token": csrf_token(check)})
    assert booked.headers["Location"] == "/book/booked"
    done = phone.get("/book/booked").text
    assert "Your visit is booked" in done and reference in done and "Before your visit" in done
    with app.app_context():
        req = db.session.scalars(select(ConsultationRequest)).one()
        assert req.status == "scheduled" and req.active_booking is not None
        assert req.scheduled_for == req.active_booking.starts_at and req.active_booking.booked_by == "patient"
        kinds = db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.cancelled_at.is_(None))
                                   .order_by(OutboxMessage.id)).all()
        assert kinds[-3:] == ["visit", "reminder", "reminder"] or kinds[-2:] == ["visit", "reminder"]
        visit = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "visit")).one()
        assert "Main clinic, 100 Example Street" in visit.body
        statuses = db.session.scalars(select(RequestEvent.status_to).where(RequestEvent.kind == "status")
                                      .order_by(RequestEvent.id)).all()
        assert statuses == ["in_progress", "scheduled"]
    again = phone.get(path)
    assert again.status_code == 410 and "This link has been used" in again.text
    second_click = phone.post(check_path, data={"csrf_token": csrf_token(check)})
    assert second_click.status_code == 410 and "This link has already booked your visit" in second_click.text
    with app.app_context():
        assert len(db.session.scalars(select(Booking)).all()) == 1  # the second click booked nothing
    page = staff.get(f"/staff/requests/{reference}").text
    assert "Booked by the patient" in page and "booked by the patient through their link" in page
    assert reference in staff.get("/staff/day?date=" + req.scheduled_for.astimezone(LA).date().isoformat()).text


def test_a_second_patient_cannot_take_the_same_time(app: Flask) -> None:
    every_day_mornings(app)
    staff = signed_in(app, "frontdesk")
    first, second = (seed_request(app, email=f"p{i}@example.com", phone=f"+1415555010{i}") for i in (1, 2))
    paths = [send_link(app, staff, ref) for ref in (first, second)]
    phones = [app.test_client(), app.test_client()]
    checks = []
    for phone, path in zip(phones, paths, strict=True):
        day_page = phone.get(path, follow_redirects=True)
        query = day_page.request.path + "?" + day_page.request.query_string.decode()
        time_path = choose(phone, query, first_radio(day_page.text))
        check_path = choose(phone, time_path, first_radio(phone.get(time_path).text))
        checks.append((check_path, csrf_token(phone.get(check_path).text)))
    assert checks[0][0].split("?")[1] == checks[1][0].split("?")[1]  # both chose the same place and time
    assert phones[0].post(checks[0][0], data={"csrf_token": checks[0][1]}).status_code == 303
    refused = phones[1].post(checks[1][0], data={"csrf_token": checks[1][1]})
    assert refused.status_code == 409
    assert "That time has just been booked by someone else. Choose another time." in refused.text
    # Shown at the check page's address, the times form still goes to the time page.
    assert re.search(r'<form method="post" action="/book/[^"]+/time\?', refused.text)
    with app.app_context():
        assert len(db.session.scalars(select(Booking)).all()) == 1
    # The second patient's link still works: they choose another time.
    assert phones[1].get(paths[1], follow_redirects=True).status_code == 200


# --- staff book, move and cancel --------------------------------------------------------------------

def staff_book(staff: FlaskClient, reference: str, nth: int = 0) -> tuple[int, str]:
    page = staff.get(f"/staff/requests/{reference}").text
    slots = re.findall(r'<option value="(\d+\|[^"]+)"', page)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    response = staff.post(f"/staff/requests/{reference}/book",
                          data={"csrf_token": csrf_token(page), "version": version, "slot": slots[nth]})
    return response.status_code, slots[nth]


def test_staff_book_move_and_cancel_and_the_time_is_free_again(app: Flask) -> None:
    every_day_mornings(app)
    reference = seed_request(app)
    staff = signed_in(app, "frontdesk")
    status, slot = staff_book(staff, reference)
    assert status == 303
    page = staff.get(f"/staff/requests/{reference}").text
    assert "Booked by staff" in page and slot not in page  # the booked time is no longer offered
    status, moved_to = staff_book(staff, reference, 1)
    assert status == 303
    with app.app_context():
        rows = db.session.scalars(select(Booking).order_by(Booking.id)).all()
        assert [r.cancelled_at is None for r in rows] == [False, True]
        assert rows[1].starts_at.isoformat() == moved_to.split("|")[1]
    assert slot in staff.get(f"/staff/requests/{reference}").text  # the old time is offered again
    page = staff.get(f"/staff/requests/{reference}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    cancelled = staff.post(f"/staff/requests/{reference}/booking/cancel",
                           data={"csrf_token": csrf_token(page), "version": version})
    assert cancelled.status_code == 303
    with app.app_context():
        req = db.session.scalars(select(ConsultationRequest)).one()
        assert req.status == "in_progress" and req.active_booking is None
    assert moved_to in staff.get(f"/staff/requests/{reference}").text
    # A stale page (the version it was loaded at) is refused, and a made-up time too.
    stale = staff.post(f"/staff/requests/{reference}/book",
                       data={"csrf_token": csrf_token(page), "version": version, "slot": slot})
    assert stale.status_code == 409
    page = staff.get(f"/staff/requests/{reference}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    made_up = staff.post(f"/staff/requests/{reference}/book",
                         data={"csrf_token": csrf_token(page), "version": version,
                               "slot": slot.split("|")[0] + "|2031-01-01T03:17:00+00:00"})
    assert made_up.status_code == 400 and "just been booked" in made_up.text


def test_a_clinician_may_look_at_the_day_list_but_not_book(app: Flask) -> None:
    every_day_mornings(app)
    reference = seed_request(app)
    clinician = signed_in(app, "clinician")
    assert clinician.get("/staff/day").status_code == 200
    assert 'action="/staff/requests/' + reference + '/book"' not in clinician.get(f"/staff/requests/{reference}").text
    assert clinician.post(f"/staff/requests/{reference}/book", data={}).status_code in (400, 403)


# --- the database refuses a double booking ----------------------------------------------------------

def test_two_bookings_of_the_same_time_at_once_give_one_booking(app: Flask) -> None:
    place_id = every_day_mornings(app)
    references = [seed_request(app, phone=f"+1415555020{i}") for i in range(2)]
    with app.app_context():
        slot = free_times(db.session, LA, now=utcnow(), settings=BookingSettings())[0]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(reference: str) -> None:
        with app.app_context():
            req = db.session.scalars(select(ConsultationRequest)
                                     .where(ConsultationRequest.reference == reference)).one()
            barrier.wait()
            try:
                book(db.session, req, place_id, slot.starts_at, tz=LA, settings=BookingSettings(),
                     messaging=messaging_settings(), now=utcnow(), actor=None)
                db.session.commit()
                outcomes.append("booked")
            except TimeTaken:
                db.session.rollback()
                outcomes.append("taken")

    with app.test_request_context():
        threads = [threading.Thread(target=attempt, args=(ref,)) for ref in references]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(outcomes) == ["booked", "taken"]
    with app.app_context():
        assert len(db.session.scalars(select(Booking).where(Booking.cancelled_at.is_(None))).all()) == 1


def test_the_unique_index_refuses_a_second_live_booking_of_a_seat(app: Flask) -> None:
    place_id = every_day_mornings(app)
    refs = [seed_request(app, phone=f"+1415555030{i}") for i in range(2)]
    start = datetime(2030, 1, 7, 17, tzinfo=UTC)
    import sqlalchemy.exc

    with app.app_context():
        ids = db.session.scalars(select(ConsultationRequest.id).order_by(ConsultationRequest.id)).all()
        assert len(ids) == len(refs)
        for request_id in ids:
            db.session.add(Booking(request_id=request_id, location_id=place_id, starts_at=start,
                                   ends_at=start + timedelta(minutes=30), seat=0, booked_by="staff"))
        try:
            db.session.commit()
            raised = False
        except sqlalchemy.exc.IntegrityError:
            db.session.rollback()
            raised = True
        assert raised


def test_purge_removes_bookings_with_their_request(app: Flask) -> None:
    every_day_mornings(app)
    reference = seed_request(app)
    staff = signed_in(app, "frontdesk")
    assert staff_book(staff, reference)[0] == 303
    with app.app_context():
        req = db.session.scalars(select(ConsultationRequest)).one()
        req.status, req.is_open = "closed", False
        db.session.commit()
        purge(db.session, utcnow() + timedelta(days=4000), RetentionPolicy.from_days(
            draft_idle=timedelta(days=1), screening_days=1, request_days=1))
        db.session.commit()
        assert db.session.scalars(select(Booking)).all() == []


def test_an_expired_or_unknown_booking_link_says_so(app: Flask) -> None:
    every_day_mornings(app)
    reference = seed_request(app, email="ana@example.com")
    path = send_link(app, signed_in(app, "frontdesk"), reference)
    with app.app_context():
        db.session.execute(text("UPDATE patient_link SET expires_at = :past"), {"past": utcnow() - timedelta(1)})
        db.session.commit()
    for address in (path, path + "/day?location=1", "/book/not-a-real-token"):
        gone = app.test_client().get(address)
        assert gone.status_code == 410 and "This link has expired" in gone.text


def test_staff_only_booking_has_no_link_to_send(make_app: Callable[..., Flask]) -> None:
    app = make_app(BOOKING_BY="staff")
    every_day_mornings(app)
    reference = seed_request(app, email="ana@example.com")
    staff = signed_in(app, "frontdesk")
    page = staff.get(f"/staff/requests/{reference}").text
    assert "Book a free time" in page and "link to choose a time" not in page
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    refused = staff.post(f"/staff/requests/{reference}/booking-link",
                         data={"csrf_token": csrf_token(page), "version": version})
    assert refused.status_code == 400 and "staff only" in refused.text
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "booking_link")).all() == []


def test_patients_of_an_allowed_category_book_right_after_sending(make_app: Callable[..., Flask]) -> None:
    from tests.answers import answers_with
    from tests.journey import see_result, send_request

    app = make_app(BOOKING_BY="after_request", BOOKING_AFTER_REQUEST_CATEGORIES="likely")
    every_day_mornings(app)
    likely = app.test_client()
    see_result(likely, answers_with())
    send_request(likely)
    sent = likely.get("/request/sent").text
    assert "Book your visit now" in sent
    opened = likely.post("/request/book", data={"csrf_token": csrf_token(sent)})
    assert opened.status_code == 303 and opened.headers["Location"].startswith("/book/")
    day_page = likely.get(opened.headers["Location"], follow_redirects=True)
    assert "Which day suits you?" in day_page.text
    unlikely = app.test_client()
    see_result(unlikely, answers_with(main_pain="back", leg_symptoms="none"))
    send_request(unlikely, {**CONTACT, "phone": "(415) 555-0142"})
    sent = unlikely.get("/request/sent").text
    assert "Book your visit now" not in sent
    token = csrf_token(unlikely.get("/request/documents").text)  # this page has no form of its own now
    assert unlikely.post("/request/book", data={"csrf_token": token}).status_code == 404


def test_with_two_locations_the_patient_chooses_the_place_first(app: Flask) -> None:
    every_day_mornings(app)
    with app.app_context():
        second = add_location(db.session, "Spine 100% Center", "9 Other Road, Oakland", "")
        db.session.flush()
        add_hours(db.session, second, utcnow().astimezone(LA).weekday(), time(13), time(14), 60, 1)
        db.session.commit()
        second_id = second.id
    reference = seed_request(app, email="ana@example.com")
    staff = signed_in(app, "frontdesk")
    path = send_link(app, staff, reference)
    phone = app.test_client()
    page = phone.get(path)
    assert "Where do you want to have your visit?" in page.text
    assert "Spine 100% Center" in page.text and "9 Other Road, Oakland" in page.text
    nothing = phone.post(path, data={"csrf_token": csrf_token(page.text)})
    assert nothing.status_code == 400 and "Choose where you want to have your visit" in nothing.text
    day_path = choose(phone, path, str(second_id))
    assert f"location={second_id}" in day_path
    day_page = phone.get(day_path).text
    assert "Back" in day_page  # to the places
    # The request closed meanwhile: the link books nothing.
    with app.app_context():
        req = db.session.scalars(select(ConsultationRequest)).one()
        req.status, req.is_open = "closed", False
        db.session.commit()
    assert phone.get(day_path).status_code == 410


def test_two_patients_sending_the_same_time_at_the_same_moment_get_one_booking(app: Flask) -> None:
    """Two HTTP posts of "Book this time" for the same time, released together: one books, one is told."""
    every_day_mornings(app)
    staff = signed_in(app, "frontdesk")
    references = [seed_request(app, email=f"q{i}@example.com", phone=f"+1415555040{i}") for i in range(2)]
    paths = [send_link(app, staff, reference) for reference in references]
    phones = [app.test_client(), app.test_client()]
    checks = []
    for phone, path in zip(phones, paths, strict=True):
        day_page = phone.get(path, follow_redirects=True)
        time_path = choose(phone, day_page.request.path + "?" + day_page.request.query_string.decode(),
                           first_radio(day_page.text))
        check_path = choose(phone, time_path, first_radio(phone.get(time_path).text))
        checks.append((check_path, csrf_token(phone.get(check_path).text)))
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def send(index: int) -> None:
        path, token = checks[index]
        barrier.wait()
        statuses.append(phones[index].post(path, data={"csrf_token": token}).status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303, 409]
    with app.app_context():
        live = db.session.scalars(select(Booking).where(Booking.cancelled_at.is_(None))).all()
        assert len(live) == 1
        # The one who was told keeps their request as it was, not scheduled.
        assert sorted(db.session.scalars(select(ConsultationRequest.status))) == ["new", "scheduled"]
