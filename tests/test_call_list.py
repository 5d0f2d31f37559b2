"""The call list as a front-desk person works it: order, Assign to me, call-back times, Due now, My calls,
and the emergency protocol. Through the real HTTP stack and the migrated database."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.extensions import db
from app.models import ConsultationRequest, RequestEvent, utcnow
from tests.answers import answers_with
from tests.factories import login, make_staff, patient_request, seed_request
from tests.test_queue import references
from tests.test_request_work import post_work, stored

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def desk(app: Flask, staff_client: FlaskClient) -> FlaskClient:
    login(staff_client, make_staff(app, "frontdesk", name="Dana Desk"))
    return staff_client


def test_an_old_possible_is_called_before_a_new_likely(app: Flask, desk: FlaskClient) -> None:
    now = utcnow()
    new_likely = seed_request(app, "likely", created_at=now - timedelta(minutes=5))
    old_possible = seed_request(app, "possible", created_at=now - timedelta(days=10))  # past the 2-day promise
    old_unlikely = seed_request(app, "unlikely", created_at=now - timedelta(days=9))
    emergency = seed_request(app, "emergency", created_at=now - timedelta(minutes=1))
    page = desk.get("/staff/requests").text
    assert references(page) == [emergency, old_possible, old_unlikely, new_likely]
    assert "then new requests past the clinic's promise to call within 2 working days (overdue)" in page
    # Once someone has tried to call, the promise is kept: the request goes back among its category.
    assert post_work(desk, old_possible, "contact", method="phone", outcome="no_answer").status_code == 303
    assert references(desk.get("/staff/requests").text) == [emergency, old_unlikely, new_likely, old_possible]


def two_pages(client: FlaskClient, first: str) -> list[str]:
    """The references on a queue page and on the page its "Next 50" link leads to."""
    link = re.search(r'href="([^"]+)" rel="next"', first)
    assert link
    return references(first) + references(client.get(link.group(1).replace("&amp;", "&")).text)


def test_paging_keeps_the_order_across_segments(app: Flask, desk: FlaskClient) -> None:
    now = utcnow()
    for minutes in range(30):
        seed_request(app, "likely", created_at=now - timedelta(minutes=minutes), phone=f"+1415555{minutes:04d}")
    for days in range(30):
        seed_request(app, "possible", created_at=now - timedelta(days=5 + days, minutes=1),
                     phone=f"+1415556{days:04d}")
    seen = two_pages(desk, desk.get("/staff/requests").text)
    assert len(seen) == len(set(seen)) == 60
    with app.app_context():
        categories = [db.session.scalar(select(ConsultationRequest.category).where(
            ConsultationRequest.reference == reference)) for reference in seen]
    assert categories == ["possible"] * 30 + ["likely"] * 30  # every overdue request before any on time


def test_assign_to_me_from_the_call_list_survives_a_double_click(app: Flask, desk: FlaskClient) -> None:
    reference = seed_request(app, "likely")
    page = desk.get("/staff/requests").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    version = re.search(rf'/staff/requests/{reference}/assign-to-me">\s*<input[^>]+>\s*'
                        r'<input type="hidden" name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    data = {"csrf_token": token, "version": version}
    first = desk.post(f"/staff/requests/{reference}/assign-to-me", data=data)
    again = desk.post(f"/staff/requests/{reference}/assign-to-me", data=data)  # the same click, sent twice
    assert first.status_code == again.status_code == 303
    with app.app_context():
        events = db.session.scalars(select(RequestEvent.kind).join(ConsultationRequest)
                                    .where(ConsultationRequest.reference == reference)).all()
    assert events.count("assigned") == 1
    mine = desk.get("/staff/requests?assignee=me").text
    assert "<h1>My calls</h1>" in mine and references(mine) == [reference]
    assert "Assigned to Dana Desk" in mine


def test_assign_to_me_over_a_colleague_is_refused_when_stale(app: Flask, desk: FlaskClient) -> None:
    reference = seed_request(app, "likely")
    page = desk.get(f"/staff/requests/{reference}").text
    colleague = app.test_client()
    login(colleague, make_staff(app, "frontdesk", name="Cal Colleague"))
    assert post_work(colleague, reference, "assign-to-me").status_code == 303
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    late = desk.post(f"/staff/requests/{reference}/assign-to-me", data={"csrf_token": token, "version": "1"})
    assert late.status_code == 409 and "Someone else changed this request" in late.text
    assert "assigned to Cal Colleague" in late.text


def test_a_call_back_time_comes_due_in_the_due_now_view(app: Flask, desk: FlaskClient) -> None:
    reference = seed_request(app, "possible")  # sent just now: not overdue, so only the call-back brings it up
    at = (utcnow() + timedelta(hours=2)).astimezone(LA)
    response = post_work(desk, reference, "callback", callback_date=at.date().isoformat(),
                         callback_time=at.strftime("%H:%M"))
    assert response.status_code == 303
    assert stored(app, reference).callback_at == at.replace(second=0, microsecond=0).astimezone(UTC)
    page = desk.get(f"/staff/requests/{reference}").text
    assert "set a call-back for today" in page or "set a call-back for tomorrow" in page
    assert references(desk.get("/staff/requests?view=due").text) == []
    with app.app_context():  # two hours pass
        db.session.execute(update(ConsultationRequest).where(ConsultationRequest.reference == reference)
                           .values(callback_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    due = desk.get("/staff/requests?view=due").text
    assert "<h1>Due now</h1>" in due and references(due) == [reference] and "Call back now" in due
    # The call made at that time clears it; a no-answer can be given a new time.
    assert post_work(desk, reference, "contact", method="phone", outcome="no_answer").status_code == 303
    assert stored(app, reference).callback_at is None
    assert references(desk.get("/staff/requests?view=due").text) == []


@pytest.mark.parametrize(("day", "clock", "message"), [
    ("", "", "Enter the date and the time to call back"),
    ("2026-13-01", "10:00", "Not a valid date value"),
    ("2020-01-01", "10:00", "Enter a call-back time between now and 90 days from now"),
    ("9999-12-31", "10:00", "Enter a call-back time between now and 90 days from now"),
])
def test_a_call_back_time_that_cannot_be_used_is_explained(
    app: Flask, desk: FlaskClient, day: str, clock: str, message: str
) -> None:
    reference = seed_request(app, "likely")
    response = post_work(desk, reference, "callback", callback_date=day, callback_time=clock)
    assert response.status_code == 400 and message in response.text
    assert stored(app, reference).callback_at is None


def test_due_now_holds_new_emergencies_and_overdue_requests(app: Flask, desk: FlaskClient) -> None:
    now = utcnow()
    emergency = seed_request(app, "emergency", created_at=now)
    overdue = seed_request(app, "likely", created_at=now - timedelta(days=8))
    seed_request(app, "likely", created_at=now)  # on time
    assert references(desk.get("/staff/requests?view=due").text) == [emergency, overdue]


def test_the_emergency_protocol_is_recorded_step_by_step(app: Flask, desk: FlaskClient) -> None:
    reference = patient_request(app, answers_with(red_flags=["saddle_numbness"]))
    page = desk.get(f"/staff/requests/{reference}").text
    assert "Emergency: call this patient now" in page
    assert page.index("Emergency: call this patient now") < page.index("Assessment")
    assert "tell them to call 911 now" in page
    refused = post_work(desk, reference, "emergency", steps=["went_to_er", "told_911"])
    assert refused.status_code == 400 and "not both" in refused.text
    assert post_work(desk, reference, "emergency", steps=["told_911"]).status_code == 303
    assert post_work(desk, reference, "emergency", steps=["told_oncall"], note="Dr Ray paged").status_code == 303
    page = desk.get(f"/staff/requests/{reference}").text
    assert "<strong>Done:</strong> Asked: they had not gone. I told them to call 911 now" in page
    assert "<strong>Done:</strong> I told the clinician on call" in page
    assert "Not recorded:</span> Asked: they have gone" in page
    assert "Dr Ray paged" in page


def test_emergency_steps_are_refused_on_other_requests(app: Flask, desk: FlaskClient) -> None:
    reference = seed_request(app, "likely")
    assert "Emergency: call this patient now" not in desk.get(f"/staff/requests/{reference}").text
    response = post_work(desk, reference, "emergency", steps=["told_oncall"])
    assert response.status_code == 400 and "only for emergency requests" in response.text


def test_the_queue_row_names_another_language_and_the_review_flags(app: Flask, desk: FlaskClient) -> None:
    answers = answers_with(red_flags=["cancer_history"])
    reference = patient_request(app, answers, preferred_language="other", other_language="Tagalog")
    html = desk.get("/staff/requests").text
    row = html[html.index(reference):].split("</tr>")[0]
    assert "Speak <strong>Tagalog</strong>" in row
    assert "Doctor review: History of cancer" in row


def test_a_page_the_role_may_not_see_is_a_staff_page_with_a_way_back(app: Flask, desk: FlaskClient) -> None:
    response = desk.get("/staff/admin/accounts")
    assert response.status_code == 403
    assert "<h1>You do not have access</h1>" in response.text
    assert "Your account (frontdesk) does not have access to this page." in response.text
    assert 'href="/staff/requests" class="button">Go to the call list' in response.text
    assert "Sign out" in response.text  # the console's own bar, not the patient error page
    missing = desk.get("/staff/requests/ZZZZ-ZZZZ")
    assert missing.status_code == 404 and "<h1>Page not found</h1>" in missing.text and "Sign out" in missing.text


def test_the_printed_handover_has_the_assignee_notes_and_timeline(app: Flask, desk: FlaskClient) -> None:
    reference = seed_request(app, "likely")
    assert post_work(desk, reference, "assign-to-me").status_code == 303
    assert post_work(desk, reference, "contact", method="phone", outcome="voicemail",
                     note="Left a message with the daughter").status_code == 303
    page = desk.get(f"/staff/requests/{reference}").text
    from tests.journey import csrf_token
    assert desk.post(f"/staff/requests/{reference}/note",
                     data={"csrf_token": csrf_token(page), "text": "Prefers afternoons"}).status_code == 303
    printed = desk.get(f"/staff/requests/{reference}/print").text
    for text in ("Handover", "Assigned to</dt><dd>Dana Desk", "Contact attempts</dt><dd>1; last",
                 "(left voicemail)", "Timeline and notes", "Left a message with the daughter", "Prefers afternoons",
                 "tried to reach the patient by phone call: left voicemail", "assigned it to Dana Desk"):
        assert text in printed, text


def test_empty_views_say_what_they_hold(app: Flask, desk: FlaskClient) -> None:
    seed_request(app, "likely")  # on time, nobody's
    assert "Nothing is due now" in desk.get("/staff/requests?view=due").text
    assert "No open requests are assigned to you" in desk.get("/staff/requests?assignee=me").text


def test_a_name_search_pages_through_every_match_in_category_order(app: Flask, desk: FlaskClient) -> None:
    from tests.test_queue import search

    now = utcnow()
    for minutes in range(30):
        seed_request(app, "possible", last_name="García", created_at=now - timedelta(minutes=minutes),
                     phone=f"+1415555{minutes:04d}")
        seed_request(app, "likely", last_name="Garcia-López", created_at=now - timedelta(days=9, minutes=minutes),
                     phone=f"+1415556{minutes:04d}")
    seed_request(app, "likely", last_name="Lopez", created_at=now)  # no "garcia" in it
    seen = two_pages(desk, search(desk, "garcia").text)
    assert len(seen) == len(set(seen)) == 60
    with app.app_context():
        found = [db.session.execute(select(ConsultationRequest.category, ConsultationRequest.created_at).where(
            ConsultationRequest.reference == reference)).one() for reference in seen]
    assert [category for category, _ in found] == ["likely"] * 30 + ["possible"] * 30
    assert [at for _, at in found[:30]] == sorted(at for _, at in found[:30])  # oldest first within each


def test_a_refused_status_form_keeps_what_was_typed_and_says_what_is_missing(app: Flask, desk: FlaskClient) -> None:
    reference = seed_request(app, "likely")
    assert post_work(desk, reference, "contact", method="phone", outcome="reached").status_code == 303
    response = post_work(desk, reference, "status", status="scheduled", appointment_time="14:30",
                         note="Wants a Tuesday; daughter drives")
    assert response.status_code == 400
    assert "Enter the appointment date and time" in response.text
    assert "Wants a Tuesday; daughter drives</textarea>" in response.text
    assert 'value="14:30"' in response.text and '<option selected value="scheduled">' in response.text
    assert "required" not in response.text.split('data-status-form')[1].split("</form>")[0]  # no browser bubbles
    assert stored(app, reference).status == "in_progress"
