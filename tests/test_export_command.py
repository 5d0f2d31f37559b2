"""``flask export requests``: the console's CSV as a file, audited the same way, refused to the wrong people."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.factories import make_staff
from tests.test_export import _bulk_requests, download, signed_in


def _export(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["export", "requests", *args])
    unexpected = result.exception if not isinstance(result.exception, SystemExit | None) else None
    return result.exit_code, result.output + ("" if unexpected is None else repr(unexpected))


def test_the_file_is_the_console_download_with_the_same_audit_row(app: Flask, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.exports.rows.FETCH_BATCH", 7)  # several batches and chunks
    monkeypatch.setattr("app.exports.rows.FLUSH_ROWS", 3)
    references = _bulk_requests(app, 20)
    client, account = signed_in(app)
    header, rows = download(client, "?category=likely")
    target = tmp_path / "export.csv"
    code, output = _export(app, "--by", account["email"], "--category", "likely", "--output", str(target))
    assert code == 0, output
    assert "Wrote 10 request(s)" in output
    text = target.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    written = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert list(written[0]) == header and written == rows
    assert [row["reference"] for row in written] == [ref for ref in references if int(ref[1:]) % 2 == 0]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # patient data: its owner only
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert len(events) == 2  # the download's and the command's
    assert (events[1].staff_id, events[1].ip) == (account["id"], None)
    assert events[1].detail == events[0].detail


def test_wrong_people_bad_filters_and_existing_files_are_refused_with_nothing_written(
        app: Flask, tmp_path: Path) -> None:
    _bulk_requests(app, 3)
    clinician = make_staff(app, "clinician")
    frontdesk = make_staff(app, "frontdesk")
    target = tmp_path / "x.csv"
    for args in (("--by", clinician["email"]), ("--by", "nobody@clinic.example"),
                 ("--by", frontdesk["email"], "--from", "2026-13-40")):
        code, output = _export(app, *args, "--output", str(target))
        assert code == 2 and "Error" in output, args
        assert not target.exists()
    target.write_text("kept")
    code, output = _export(app, "--by", frontdesk["email"], "--output", str(target))
    assert code == 2 and "cannot create" in output
    assert target.read_text() == "kept"
    with app.app_context():
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all() == []
