"""The CSV export's fast path (app/export_fast.py) writes the reference's file byte for byte, chunk for chunk.

The reference is ``app/export.py``'s ``write_csv(fetch_rows(...))``: SQLAlchemy's typed rows and one ``cell()``
per column. The rows here are chosen to reach every branch the fast path takes on its own: blanks, formula-like
and quoted text, multiple choice in every shape, codes no question has, integers of the wrong type, missing
rule lists, timestamps, and contact details under an older encryption key.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import text

from app import crypto, export_parallel
from app.crypto import Keyring, new_key_spec, parse_keys
from app.export import _CSV_SELECTED, fetch_rows, stream_csv, write_csv
from app.export_fast import CACHE_LIMIT, _Lines
from app.extensions import db
from app.models import ConsultationRequest, Screening
from app.queue import QueueFilters, build_query
from app.search_index import request_indexes
from tests.answers import answers_with
from tests.conftest import database_url, raw_connection
from tests.factories import make_staff

TZ = ZoneInfo("America/Los_Angeles")
K_OLD, K_NEW = new_key_spec("old"), new_key_spec("new")

# (answers, assessment) pairs: the usual, then everything a stored screening could still hold.
SCREENINGS: list[tuple[Any, Any]] = [
    (answers_with(), {"reasons": ["C1", "C2"], "unmet": [], "cautions": ["W1"]}),
    (answers_with(had_mri="no", mri_findings=None), {"reasons": [], "unmet": ["C3"], "cautions": []}),
    (answers_with(red_flags=["fever", "weight_loss"]), {"reasons": ["E1"], "unmet": [], "cautions": []}),
    (answers_with(red_flags=["weight_loss", "fever"]), {"reasons": ["E1"]}),  # other order; two lists missing
    (answers_with(red_flags=[]), {"reasons": "E1", "unmet": None, "cautions": []}),  # a string is joined by char
    (answers_with(mri_findings=["stenosis", "no_such_code"], walking_limit="no_such_code"), {}),
    (answers_with(pain_score=True, age=7.0, main_pain=3), {"reasons": [], "unmet": [], "cautions": []}),
    (answers_with(mri_findings=[1, True], blood_thinners=[["nested"]]), {"reasons": ["C1"]}),
    ({"red_flags": ["none"]}, {"reasons": []}),  # most answers missing: blank cells
    ({}, {"unmet": ["C1", "C2", "C3"]}),
]
# Contact details a patient could type, including what spreadsheets would run or that needs quoting.
PEOPLE: list[dict[str, Any]] = [
    {"first_name": "Ana", "last_name": "García", "email": None, "message": None},
    {"first_name": "=HYPERLINK(\"x\")", "last_name": "@SUM(A1)", "email": "-x@example.com", "message": "+1 call me"},
    {"first_name": "O'Brien, Jr", "last_name": 'Say "hi"', "email": "a@example.com",
     "message": "Line one\r\nline two, with a comma\nand \"quotes\""},
    {"first_name": "\tTab", "last_name": "\rReturn", "email": None, "message": ""},
    {"first_name": " Space", "last_name": "李", "email": "li@example.com", "message": "😀 emoji"},
]


def _store(app: Flask, count: int, *, since: int = 0, duplicate_of: int | None = None,
           assignee: int | None = None) -> list[int]:
    """``count`` requests with varied contact details, answers and times; their ids."""
    start = datetime(2026, 3, 8, 9, 30, 15, 123456, tzinfo=UTC)  # the day clocks change in the clinic's zone
    ids = []
    with app.app_context():
        for number in range(since, since + count):
            answers, assessment = SCREENINGS[number % len(SCREENINGS)]
            person = PEOPLE[number % len(PEOPLE)]
            created = start + timedelta(hours=number * 7, seconds=number)
            screening = Screening(answers=answers, assessment=assessment, category="likely", score=number % 11,
                                  cook_score=number % 6, rule_version="2026.1", created_at=created)
            phone = f"+1415555{number:04d}"
            request = ConsultationRequest(
                reference=f"F{number:06d}", screening=screening, category=("likely", "possible")[number % 2],
                category_rank=1 + number % 2, score=number % 11,
                date_of_birth=date(1950, 1, 1) + timedelta(days=number),
                phone=phone, **request_indexes(phone=phone, email=person["email"], last_name=person["last_name"]),
                preferred_contact=("phone", "text", "email", "pigeon")[number % 4],
                best_time=("morning", "any")[number % 2], preferred_language=("en", "es", "other")[number % 3],
                insurance=("medicare", "not_sure", "+formula")[number % 3], consent_contact=number % 5 != 0,
                screen_language=("en", "es")[number % 2], status=("new", "closed")[number % 2],
                outcome=(None, "consult_booked")[number % 2], is_open=number % 2 == 0,
                scheduled_for=created + timedelta(days=3) if number % 3 == 0 else None,
                assignee_id=assignee if number % 2 else None, duplicate_of_id=duplicate_of if number % 4 == 1 else None,
                created_at=created, updated_at=created + timedelta(minutes=number),
                **{key: value for key, value in person.items()})
            db.session.add(request)
            db.session.flush()
            ids.append(request.id)
        db.session.commit()
    return ids


def _exports(app: Flask, filters: QueueFilters | None = None) -> tuple[list[str], list[str]]:
    """(fast chunks, reference chunks) of the same export."""
    with app.app_context():
        query = build_query(filters or QueueFilters(status="all"), staff_id=1, tz=TZ, region="US")
        fast = list(stream_csv(db.session, query, TZ))
        reference = list(write_csv(fetch_rows(db.session, query, _CSV_SELECTED), TZ))
        db.session.remove()
    return fast, reference


def test_fast_export_is_the_reference_byte_for_byte(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.export.FETCH_BATCH", 7)  # many keyset batches, chunks across batch boundaries
    monkeypatch.setattr("app.export.FLUSH_ROWS", 5)
    staff = make_staff(app, "frontdesk")
    first = _store(app, 1)[0]
    _store(app, 59, since=1, duplicate_of=first, assignee=staff["id"])
    fast, reference = _exports(app)
    assert fast == reference
    text = "".join(fast)
    assert text.count("\n") > 60 and "'=HYPERLINK" in text and "'@SUM(A1)" in text and "García" in text
    # Only the filtered queue, as the reference: the requests of one category.
    fast, reference = _exports(app, QueueFilters(status="all", category="possible"))
    assert fast == reference and len(fast) > 1


def test_contact_details_under_an_older_key_are_exported(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    index_key = crypto.keyring().index_key
    monkeypatch.setattr(crypto, "_keyring", Keyring(tuple(parse_keys(K_OLD)), index_key))
    _store(app, 6)  # written under "old"
    monkeypatch.setattr(crypto, "_keyring", Keyring(tuple(parse_keys(f"{K_NEW},{K_OLD}")), index_key))
    _store(app, 6, since=6)  # written under "new", after the key was added (before any rotation)
    fast, reference = _exports(app)
    assert fast == reference
    rows = "".join(fast).count("García")
    assert rows == 3  # numbers 0, 5 and 10: two under the old key, one under the new


def test_a_value_copied_into_another_column_does_not_decrypt(app: Flask) -> None:
    _store(app, 1)
    with app.app_context():  # plain SQL: the column type would encrypt the ciphertext again
        db.session.execute(text("UPDATE consultation_request SET first_name = phone"))
        db.session.commit()
    with pytest.raises(crypto.DecryptionError):
        _exports(app)


def test_caches_stay_bounded(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.export_fast.CACHE_LIMIT", 2)
    _store(app, 20)
    fast, reference = _exports(app)
    assert fast == reference
    with app.app_context():
        lines = _Lines(TZ)
    assert CACHE_LIMIT >= 1024 and lines.rule_ids == {}


def test_an_abandoned_export_stops_reading_and_leaves_the_database_writable(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.export.FETCH_BATCH", 4)
    monkeypatch.setattr("app.export.FLUSH_ROWS", 2)
    _store(app, 30)
    with app.app_context():
        query = build_query(QueueFilters(status="all"), staff_id=1, tz=TZ, region="US")
        chunks = stream_csv(db.session, query, TZ)
        received = [next(chunks), next(chunks)]  # the header, then two rows; the next batch is being read
        chunks.close()  # the browser went away: the helper thread finishes its batch and stops
        assert not [thread for thread in threading.enumerate() if thread.name.startswith("csv-export")]
        db.session.remove()
    assert len(list(csv.reader(io.StringIO(received[1], newline="")))) == 2
    with raw_connection(database_url(app), lock_wait=0.5) as other:
        other.execute(text("UPDATE consultation_request SET status = 'closed'"))


def _parallel_export(app: Flask, filters: QueueFilters | None = None, processes: int = 2) -> list[str]:
    """The export's chunks with helper processes writing every batch after the first."""
    with app.app_context():
        query = build_query(filters or QueueFilters(status="all"), staff_id=1, tz=TZ, region="US")
        chunks = list(stream_csv(db.session, query, TZ, processes=processes))
        db.session.remove()
    return chunks


def test_helper_processes_write_the_reference_file_chunk_for_chunk(
        app: Flask, monkeypatch: pytest.MonkeyPatch, helper_batches: list[int]) -> None:
    monkeypatch.setattr("app.export.FETCH_BATCH", 6)  # the parent's batch size and chunks; helpers get the ids
    monkeypatch.setattr("app.export.FLUSH_ROWS", 3)
    monkeypatch.setattr("app.export_parallel.PARALLEL_AFTER", 2)  # two batches in process, the rest in helpers
    staff = make_staff(app, "frontdesk")
    first = _store(app, 1)[0]
    _store(app, 46, since=1, duplicate_of=first, assignee=staff["id"])
    parallel, (fast, reference) = _parallel_export(app), _exports(app)
    assert parallel == reference == fast
    assert helper_batches == [6, 6, 6, 6, 6, 5]  # 47 rows: two batches of 6 in process, 35 rows by the helpers
    assert "".join(parallel).count("\r\n") > 47 and "'=HYPERLINK" in "".join(parallel[3:])
    # A filter the parent's key reads apply: the helpers write exactly the filtered requests, in order.
    for filters in (QueueFilters(status="open"), QueueFilters(status="all", category="possible"),
                    QueueFilters(status="all", assignee="none")):
        parallel, (fast, reference) = _parallel_export(app, filters), _exports(app, filters)
        assert parallel == reference and len(parallel) > 3


def test_helper_processes_decrypt_with_every_configured_key(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.export.FETCH_BATCH", 2)
    monkeypatch.setattr("app.export.FLUSH_ROWS", 1)
    monkeypatch.setattr("app.export_parallel.PARALLEL_AFTER", 1)
    index_key = crypto.keyring().index_key
    monkeypatch.setattr(crypto, "_keyring", Keyring(tuple(parse_keys(K_OLD)), index_key))
    _store(app, 6)
    monkeypatch.setattr(crypto, "_keyring", Keyring(tuple(parse_keys(f"{K_NEW},{K_OLD}")), index_key))
    _store(app, 6, since=6)
    parallel, (_, reference) = _parallel_export(app, processes=1), _exports(app)
    assert parallel == reference and "".join(parallel).count("García") == 3


def test_an_abandoned_parallel_export_stops_its_helpers(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.export.FETCH_BATCH", 2)
    monkeypatch.setattr("app.export.FLUSH_ROWS", 1)
    monkeypatch.setattr("app.export_parallel.PARALLEL_AFTER", 1)
    _store(app, 40)
    with app.app_context():
        query = build_query(QueueFilters(status="all"), staff_id=1, tz=TZ, region="US")
        chunks = stream_csv(db.session, query, TZ, processes=2)
        received = [next(chunks) for _ in range(5)]  # the header, two rows in process, two from a helper
        assert multiprocessing.active_children()  # the helpers are running
        chunks.close()  # the download was abandoned
        assert not multiprocessing.active_children()
        db.session.remove()
    assert len(received) == 5
    with raw_connection(database_url(app), lock_wait=0.5) as other:
        other.execute(text("UPDATE consultation_request SET status = 'closed'"))


def test_a_failing_helper_ends_the_download_instead_of_skipping_rows(app: Flask, monkeypatch: pytest.MonkeyPatch
                                                                     ) -> None:
    monkeypatch.setattr("app.export.FETCH_BATCH", 2)
    monkeypatch.setattr("app.export_parallel.PARALLEL_AFTER", 1)
    _store(app, 6)
    with app.app_context():  # a ciphertext moved into another column: the helper cannot decrypt it
        db.session.execute(text("UPDATE consultation_request SET first_name = phone WHERE reference = 'F000005'"))
        db.session.commit()
    with pytest.raises(crypto.DecryptionError):
        _parallel_export(app)



# A serving worker in a process of its own: it starts an export with helpers, reports them, and waits.
_WORKER = """
import multiprocessing, sys, time
from zoneinfo import ZoneInfo

def main():
    from app import create_app, export, export_parallel
    from app.extensions import db
    from app.queue import QueueFilters, build_query
    from config import TestingConfig
    export.FETCH_BATCH, export.FLUSH_ROWS, export_parallel.PARALLEL_AFTER = 2, 1, 1
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=sys.argv[1])
    tz = ZoneInfo("America/Los_Angeles")
    with app.app_context():
        query = build_query(QueueFilters(status="all"), staff_id=1, tz=tz, region="US")
        chunks = export.stream_csv(db.session, query, tz, processes=2)
        for _ in range(5):  # the header, two rows in process, two from the helpers
            next(chunks)
        print(" ".join(str(child.pid) for child in multiprocessing.active_children()), flush=True)
        time.sleep(120)

if __name__ == "__main__":
    main()
"""


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (an ended process no one has reaped yet is a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_helpers_leave_when_their_worker_is_killed(app: Flask, tmp_path: Path) -> None:
    _store(app, 20)
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    root = Path(__file__).resolve().parent.parent
    with (tmp_path / "worker.log").open("w") as log, subprocess.Popen(  # this interpreter, the script above
            [sys.executable, str(script), database_url(app)], cwd=root, stdout=subprocess.PIPE, stderr=log,
            text=True, env={**os.environ, "PYTHONPATH": str(root)}) as worker:
        try:
            assert worker.stdout is not None
            helpers = [int(pid) for pid in worker.stdout.readline().split()]
            assert len(helpers) == 2 and all(_running(pid) for pid in helpers), (tmp_path / "worker.log").read_text()
        finally:
            worker.kill()  # SIGKILL, as gunicorn ends a worker past its timeout: no chance to stop the pool
            worker.wait()
    deadline = time.monotonic() + 10 * export_parallel.PARENT_CHECK_SECONDS
    while any(_running(pid) for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in helpers if _running(pid)]
