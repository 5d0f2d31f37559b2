"""The work queue: order, filters in the query string, search kept out of it, keyset pages, counts, duplicates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.casework.queue import QueueFilters, decode_cursor, parse_filters, waited
from app.extensions import db
from app.models import AuditEvent
from tests.factories import login, make_staff, seed_request, staff_token

T0 = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # 09:00 in Los Angeles


def references(html: str) -> list[str]:
    """The references in the queue table, in order."""
    return re.findall(r'href="/staff/requests/([A-Z0-9-]+)" class="call-name"', html)


def post_search(client: FlaskClient, text: str, **fields: str) -> str:
    """Send the queue's search form (a POST, like the browser); return where it redirects."""
    token = staff_token(client, "/staff/requests")
    response = client.post("/staff/requests", data={"csrf_token": token, "q": text, **fields})
    assert response.status_code == 303, response.status_code
    return response.headers["Location"]


def search(client: FlaskClient, text: str, **fields: str) -> TestResponse:
    """Search through the form and return the queue page it leads to."""
    return client.get(post_search(client, text, **fields))


@pytest.fixture
def desk(app: Flask, staff_client: FlaskClient) -> FlaskClient:
    login(staff_client, make_staff(app, "frontdesk"))
    return staff_client


def test_default_order_is_emergency_then_category_then_oldest(app: Flask, desk: FlaskClient) -> None:
    unlikely_old = seed_request(app, "unlikely", created_at=T0)
    likely_new = seed_request(app, "likely", created_at=T0 + timedelta(hours=3))
    likely_old = seed_request(app, "likely", created_at=T0 + timedelta(hours=1))
    possible = seed_request(app, "possible", created_at=T0)
    emergency = seed_request(app, "emergency", created_at=T0 + timedelta(hours=5))
    assert references(desk.get("/staff/requests").text) == [emergency, likely_old, likely_new, possible, unlikely_old]


def test_row_shows_what_a_caller_needs(app: Flask, desk: FlaskClient) -> None:
    reference = seed_request(app, "likely", created_at=T0, last_name="Nguyen", phone="+14155550123")
    html = desk.get("/staff/requests").text
    row = html[html.index(reference):].split("</tr>")[0]
    for text in ("Nguyen, Pat", "(415) 555-0123", "Likely", "New", "Not assigned", "Phone call · Any time",
                 "Speak English", "Not tried yet", "Overdue", "Assign to me"):
        assert text in row, text
    assert re.search(r"Sent Fri Nov 20, 9:00 AM \(\d+ d \d+ h ago\)", row)  # when, and how long it has waited
    # Sent Friday 09:00 with the 2-working-day promise and 08:00-17:00 hours: due Tuesday 09:00.
    assert re.search(r'class="error">Due Tue Nov 24, 9:00 AM<', row)
    assert ">100<" not in row and "score" not in row.lower()  # the fit score is not a priority: it is not shown


def test_filters_live_in_the_query_string(app: Flask, desk: FlaskClient) -> None:
    likely = seed_request(app, "likely", created_at=T0)
    possible = seed_request(app, "possible", created_at=T0)
    assert references(desk.get("/staff/requests?category=possible").text) == [possible]
    assert references(desk.get("/staff/requests?status=closed").text) == []
    assert references(desk.get("/staff/requests?status=new&category=likely").text) == [likely]
    html = desk.get("/staff/requests?category=possible").text
    assert '<option value="possible" selected>' in html


def test_date_range_is_in_the_clinic_time_zone(app: Flask, desk: FlaskClient) -> None:
    late_evening = seed_request(app, created_at=datetime(2026, 11, 21, 7, 30, tzinfo=UTC))  # 20 Nov, 23:30 LA
    next_morning = seed_request(app, created_at=datetime(2026, 11, 21, 16, 0, tzinfo=UTC))  # 21 Nov, 08:00 LA
    assert references(desk.get("/staff/requests?from=2026-11-20&to=2026-11-20").text) == [late_evening]
    assert references(desk.get("/staff/requests?from=2026-11-21").text) == [next_morning]


def test_assignee_filter(app: Flask, desk: FlaskClient) -> None:
    seed_request(app, created_at=T0)
    assert references(desk.get("/staff/requests?assignee=me").text) == []
    assert len(references(desk.get("/staff/requests?assignee=none").text)) == 1


@pytest.mark.parametrize("query", ["(415) 555-0177", "415.555.0177", "+1 415 555 0177", "4155550177"])
def test_search_by_phone_in_any_format(app: Flask, desk: FlaskClient, query: str) -> None:
    wanted = seed_request(app, phone="+14155550177", created_at=T0)
    seed_request(app, phone="+14155550178", created_at=T0)
    assert references(search(desk, query).text) == [wanted]


def test_a_reference_drawn_before_v_was_dropped_is_still_found(app: Flask, desk: FlaskClient) -> None:
    from app.models import ConsultationRequest

    old = seed_request(app, created_at=T0)
    seed_request(app, created_at=T0)
    with app.app_context():  # as a reference drawn with the old alphabet, which had V
        request = db.session.scalar(select(ConsultationRequest).where(ConsultationRequest.reference == old))
        request.reference = "VB7V-K2Q9"
        db.session.commit()
    assert references(search(desk, "vb7v k2q9").text) == ["VB7V-K2Q9"]
    assert "VB7V-K2Q9" in desk.get("/staff/requests/VB7V-K2Q9").text


def test_search_by_reference_and_last_name(app: Flask, desk: FlaskClient) -> None:
    wanted = seed_request(app, last_name="García", created_at=T0)
    two_part = seed_request(app, last_name="Garcia-López", created_at=T0 + timedelta(minutes=1))
    assert references(search(desk, wanted.lower().replace("-", " ")).text) == [wanted]
    assert references(search(desk, "GARCÍA").text) == [wanted, two_part]  # the whole name, or its first part
    assert references(search(desk, "garcia lopez").text) == [two_part]
    assert references(search(desk, "Lopez").text) == [two_part]  # any one part
    assert references(search(desk, "Garc").text) == []  # whole words, not prefixes


def test_search_ignores_accents_case_and_apostrophes(app: Flask, desk: FlaskClient) -> None:
    hernandez = seed_request(app, last_name="Hernández García", created_at=T0)
    obrien = seed_request(app, last_name="O’Brien", created_at=T0 + timedelta(minutes=1))
    seed_request(app, last_name="Fernandez", created_at=T0 + timedelta(minutes=2))
    assert references(search(desk, "hernandez").text) == [hernandez]
    assert references(search(desk, "Hernandez").text) == [hernandez]
    assert references(search(desk, "HERNANDEZ GARCIA").text) == [hernandez]
    assert references(search(desk, "obrien").text) == [obrien]
    assert references(search(desk, "O'Brien").text) == [obrien]


def test_search_text_stays_out_of_the_url_and_the_other_filters_stay_in_it(app: Flask, desk: FlaskClient) -> None:
    wanted = seed_request(app, "possible", last_name="Okonkwo", phone="+14155550166", created_at=T0)
    seed_request(app, "likely", last_name="Okonkwo", created_at=T0)
    location = post_search(desk, "Okonkwo", category="possible", status="open", assignee="", **{"from": "2026-11-01"})
    parts = urlsplit(location)
    assert parts.path == "/staff/requests"
    query = parse_qs(parts.query)
    assert set(query) == {"category", "from", "search"}  # status=open is the default and left out
    assert (query["category"], query["from"]) == (["possible"], ["2026-11-01"])
    assert "Okonkwo" not in location.lower() and "okonkwo" not in desk.get(location).request.url.lower()
    page = desk.get(location)
    assert references(page.text) == [wanted]
    assert 'value="Okonkwo"' in page.text  # the box still shows what was searched for
    # Every link on the page that keeps the view (status counts, export, pages) carries the id, not the text.
    links = re.findall(r'href="(/staff/requests[^"]*)"', page.text)
    assert links and not [link for link in links if "Okonkwo" in link or "5550166" in link]
    assert f"search={query['search'][0]}" in page.text
    phone_location = post_search(desk, "(415) 555-0166")
    assert "555" not in phone_location and "0166" not in phone_location


def test_the_session_keeps_only_ciphertext(app: Flask, desk: FlaskClient) -> None:
    seed_request(app, last_name="Okonkwo", created_at=T0)
    search(desk, "Okonkwo")
    with desk.session_transaction("/staff/requests") as session:  # the console's own cookie
        kept = session["queue_searches"]
    assert len(kept) == 1 and "okonkwo" not in str(kept).lower()


def test_the_back_button_shows_each_earlier_search(app: Flask, desk: FlaskClient) -> None:
    first = seed_request(app, last_name="Adeyemi", created_at=T0)
    second = seed_request(app, last_name="Brennan", created_at=T0)
    first_page = post_search(desk, "Adeyemi")
    second_page = post_search(desk, "Brennan")
    assert first_page != second_page
    assert references(desk.get(second_page).text) == [second]
    assert references(desk.get(first_page).text) == [first]  # not whatever was searched last


def test_clear_search_keeps_the_filters_and_forgets_the_text(app: Flask, desk: FlaskClient) -> None:
    seed_request(app, "likely", last_name="Adeyemi", created_at=T0)
    seed_request(app, "likely", last_name="Brennan", created_at=T0)
    searched = post_search(desk, "Adeyemi", category="likely")
    assert "Clear search" in desk.get(searched).text
    token = staff_token(desk, searched)
    cleared = desk.post("/staff/requests", data={"csrf_token": token, "q": "Adeyemi", "category": "likely",
                                                 "clear": "1"})
    assert cleared.headers["Location"] == "/staff/requests?category=likely"
    assert len(references(desk.get(cleared.headers["Location"]).text)) == 2
    with desk.session_transaction("/staff/requests") as session:  # the console's own cookie
        assert "queue_searches" not in session
    ended = desk.get(searched)
    assert "That search has ended" in ended.text
    assert len(references(ended.text)) == 2  # the other filters still apply; the message says why


def test_a_search_belongs_to_the_session_that_made_it(app: Flask, desk: FlaskClient) -> None:
    seed_request(app, last_name="Adeyemi", created_at=T0)
    seed_request(app, last_name="Brennan", created_at=T0)
    location = post_search(desk, "Adeyemi")
    colleague = app.test_client()
    login(colleague, make_staff(app, "frontdesk"))
    page = colleague.get(location)
    assert "That search has ended" in page.text and "Adeyemi" not in page.text.split("<table")[0]


def test_search_text_in_the_url_is_ignored_with_a_message(app: Flask, desk: FlaskClient) -> None:
    seed_request(app, last_name="Adeyemi", created_at=T0)
    seed_request(app, last_name="Brennan", created_at=T0)
    page = desk.get("/staff/requests?q=Adeyemi")
    assert "Search text in the web address is ignored" in page.text
    assert len(references(page.text)) == 2
    assert 'value="Adeyemi"' not in page.text


def test_a_search_needs_a_csrf_token_and_a_signed_in_account(app: Flask, desk: FlaskClient) -> None:
    assert desk.post("/staff/requests", data={"q": "Adeyemi"}).status_code == 400
    anonymous = app.test_client()
    token = staff_token(anonymous, "/staff/login")
    assert anonymous.post("/staff/requests", data={"csrf_token": token, "q": "Adeyemi"}).status_code == 401


def test_a_search_is_audited_without_its_text(app: Flask, desk: FlaskClient) -> None:
    seed_request(app, last_name="Adeyemi", created_at=T0)
    search(desk, "Adeyemi", category="likely")
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view_queue")
                                   .order_by(AuditEvent.id.desc())).first()
        assert event is not None
        assert event.detail == {"category": "likely", "searched": True}


def test_keyset_pages_of_fifty_keep_the_filters(app: Flask, desk: FlaskClient) -> None:
    created = [seed_request(app, "possible", created_at=T0 + timedelta(minutes=i)) for i in range(53)]
    seed_request(app, "likely", created_at=T0)
    first = desk.get("/staff/requests?category=possible")
    assert references(first.text) == created[:50]
    next_link = re.search(r'<a href="(/staff/requests\?[^"]+)" rel="next">', first.text)
    assert next_link
    url = next_link.group(1).replace("&amp;", "&")
    assert "category=possible" in url and "after=" in url
    second = desk.get(url)
    assert references(second.text) == created[50:]
    assert 'rel="next"' not in second.text


def test_counts_per_status(app: Flask, desk: FlaskClient) -> None:
    for _ in range(3):
        seed_request(app, created_at=T0)
    html = desk.get("/staff/requests").text
    assert re.search(r"New: <strong>3</strong>", html)
    assert re.search(r"Closed: <strong>0</strong>", html)


def test_status_counts_follow_every_change_in_the_database(app: Flask) -> None:
    """The counts are kept by triggers (migration 0006): inserts, status changes, other updates and deletes."""
    from sqlalchemy import delete, func, update

    from app.casework.queue import status_counts
    from app.models import ConsultationRequest, RequestEvent

    references = [seed_request(app, created_at=T0) for _ in range(4)]
    with app.app_context():
        table = ConsultationRequest.__table__
        db.session.execute(update(table).where(table.c.reference.in_(references[:2])).values(status="in_progress"))
        db.session.execute(update(table).where(table.c.reference == references[0]).values(status="closed"))
        db.session.execute(update(table).where(table.c.reference == references[1]).values(score=1))  # not a status
        db.session.execute(update(table).where(table.c.reference == references[2]).values(status="new"))  # same
        gone = select(table.c.id).where(table.c.reference == references[3]).scalar_subquery()
        db.session.execute(delete(RequestEvent).where(RequestEvent.request_id == gone))
        db.session.execute(delete(table).where(table.c.reference == references[3]))
        db.session.commit()
        counted = dict(db.session.execute(select(table.c.status, func.count()).group_by(table.c.status)).all())
        assert status_counts(db.session) == {"new": 1, "in_progress": 1, "scheduled": 0, "closed": 1}
        assert {k: v for k, v in status_counts(db.session).items() if v} == counted


def test_duplicate_marker_for_same_phone_within_30_days(app: Flask, desk: FlaskClient) -> None:
    seed_request(app, phone="+14155550150", created_at=T0 - timedelta(days=40))
    first = seed_request(app, phone="+14155550150", created_at=T0)
    second = seed_request(app, phone="+14155550150", created_at=T0 + timedelta(days=3))
    other = seed_request(app, phone="+14155550151", email="pat@example.com", created_at=T0 + timedelta(days=4))
    by_email = seed_request(app, phone="+14155550152", email="PAT@example.com", created_at=T0 + timedelta(days=5))
    html = desk.get("/staff/requests?status=all").text

    def marked(reference: str) -> bool:
        return "Possible duplicate" in html[html.index(reference):].split("</tr>")[0]

    assert not marked(first) and marked(second) and not marked(other) and marked(by_email)
    detail = desk.get(f"/staff/requests/{second}").text
    assert f'href="/staff/requests/{first}"' in detail


def test_bad_filters_get_a_message_not_a_500(app: Flask, desk: FlaskClient) -> None:
    seed_request(app, created_at=T0)
    response = desk.get("/staff/requests?status=bogus&category=x&assignee=zz&from=yesterday&after=junk")
    assert response.status_code == 200
    for message in ("Unknown status filter", "Unknown category filter", "From must be a date",
                    "page link is out of date"):
        assert message in response.text
    assert len(references(response.text)) == 1


def test_filters_round_trip_through_the_query_string() -> None:
    kept = {"k3J9x": "Smith"}
    filters = parse_filters({"status": "scheduled", "category": "likely", "assignee": "me", "from": "2026-11-01",
                             "to": "2026-11-30", "search": "k3J9x"}, kept.get)
    assert (filters.q, filters.search, filters.errors) == ("Smith", "k3J9x", ())
    assert "Smith" not in str(filters.to_args())
    assert parse_filters(filters.to_args(), kept.get) == filters
    assert QueueFilters().to_args() == {}
    assert decode_cursor("9.abc.1") is None


@pytest.mark.parametrize(("minutes", "words"), [(0, "0 min"), (59, "59 min"), (61, "1 h 1 min"),
                                                (60 * 24 + 120, "1 d 2 h")])
def test_waited_in_words(minutes: int, words: str) -> None:
    assert waited(T0, T0 + timedelta(minutes=minutes)) == words
