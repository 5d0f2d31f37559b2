"""``flask export requests``: the CSV export as a command, for exports too large for a browser download.

It writes the same file as the staff console's download (``export.stream_csv``) with the same audit row, named
for the member of staff who asked for it (``--by``), and shows a progress bar on the terminal.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.casework.audit import record
from app.casework.queue import build_query, parse_filters
from app.exports.csv_export import stream_csv
from app.exports.rows import audit_detail
from app.extensions import db
from app.models import utcnow
from app.security.accounts import find_by_email
from app.staff.access import EXPORT

export_cli = AppGroup("export", help="Exports of patient data (audited like the console's downloads).")


@export_cli.command("requests")
@click.option("--by", "email", required=True, help="Email of the active frontdesk or admin account exporting.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The CSV file to write; it must not exist yet (readable by its owner only).")
@click.option("--status", default="open", show_default=True, help="open, all, or one status, as in the queue.")
@click.option("--category", default="", help="emergency, likely, possible or unlikely; empty for all.")
@click.option("--from", "submitted_from", default="", help="Submitted on or after this date (YYYY-MM-DD).")
@click.option("--to", "submitted_to", default="", help="Submitted on or before this date (YYYY-MM-DD).")
def export_requests(email: str, output: Path, status: str, category: str, submitted_from: str,
                    submitted_to: str) -> None:
    """Write every request matching the queue's filters to a CSV file, with a progress bar."""
    staff = find_by_email(db.session, email)
    if staff is None or not staff.active or staff.role not in EXPORT:
        raise click.UsageError(f"--by must name an active account allowed to export ({', '.join(EXPORT)})")
    filters = parse_filters({"status": status, "category": category, "from": submitted_from, "to": submitted_to})
    if filters.errors:
        raise click.UsageError(" ".join(filters.errors))
    clinic = current_app.extensions["clinic"]
    query = build_query(filters, staff_id=staff.id, tz=clinic.timezone, region=clinic.phone_region)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    try:
        # Patient data: created for its owner only, and never over a file that is already there.
        handle = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise click.UsageError(f"cannot create {output}: {exc.strerror}") from None
    record(db.session, "export", now=utcnow(), staff_id=staff.id, ip=None, detail=audit_detail(filters))
    db.session.commit()  # before writing: an export that fails half-way is still on record
    written = 0
    with open(handle, "w", encoding="utf-8", newline="") as file, click.progressbar(
        length=total, label="Exporting requests", file=sys.stderr
    ) as bar:
        for number, chunk in enumerate(stream_csv(db.session, query, clinic.timezone)):
            file.write(chunk)
            rows = chunk.count("\r\n") - (1 if number == 0 else 0)  # the first chunk is the header
            written += rows
            bar.update(rows)
    click.echo(f"Wrote {written} request(s) to {output}.")
