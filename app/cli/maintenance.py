"""``flask purge`` (retention) and ``flask backup`` (a consistent copy of the live database).

Both are meant for cron or a systemd timer; each real run writes one audit row (counts or file size,
never contents). The work itself is in app/casework/retention.py and app/platform/backup.py, which import no Flask.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.casework.audit import record
from app.casework.retention import RetentionPolicy, purge
from app.extensions import db
from app.models import utcnow
from app.platform.backup import BackupError, backup_database


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed; change nothing.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Remove data past its retention period (expired drafts, old screenings, old closed requests)."""
    config = current_app.config
    policy = RetentionPolicy.from_days(draft_idle=config["DRAFT_IDLE_TIMEOUT"],
                                       screening_days=int(config["SCREENING_RETENTION_DAYS"]),
                                       request_days=int(config["REQUEST_RETENTION_DAYS"]))
    now = utcnow()
    counts = purge(db.session, now, policy, dry_run=dry_run)
    if dry_run:
        db.session.rollback()  # nothing was changed; end the read transaction
    else:
        record(db.session, "purge", now=now, staff_id=None, ip=None, detail=counts.as_dict())
        db.session.commit()  # the deletions and their audit row together, or neither
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {counts.drafts} expired draft(s), {counts.screenings} screening(s) without a request, "
               f"{counts.requests} closed request(s) with {counts.request_events} timeline entr(ies).")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it already exists.")
@with_appcontext
def backup_command(path: Path, force: bool) -> None:
    """Write a consistent copy of the database to PATH while the app keeps serving."""
    try:
        result = backup_database(db.engine.url, path, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    record(db.session, "backup", now=utcnow(), staff_id=None, ip=None,
           detail={"dialect": result.dialect, "path": str(result.path), "bytes": result.size})
    db.session.commit()
    click.echo(f"Backed up the {result.dialect} database to {result.path} ({result.size} bytes).")
