"""``flask purge`` (retention), ``flask backup`` (a consistent, verified copy) and ``flask restore``.

Purge and backup are meant for systemd timers (deploy/); each real run writes one audit row (counts, file name
and size, never contents), and a failure exits non-zero so the timer's unit shows it. The work itself is in
app/casework/retention.py, app/platform/backup.py and app/platform/restore.py, which import no Flask.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.casework.audit import record
from app.casework.retention import RetentionPolicy, purge
from app.extensions import db
from app.models import utcnow
from app.platform.backup import BackupError, backup_database
from app.platform.restore import BackupReport, inspect_backup, restore_postgresql, restore_sqlite
from app.security.crypto import keyring
from app.security.key_rotation import encrypted_tables

BACKUP_SUFFIX = {"sqlite": ".sqlite3", "postgresql": ".dump"}


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


def _inspect(path: Path, dialect: str) -> BackupReport:
    known = [key_id for key_id, _ in keyring().keys]
    return inspect_backup(path, dialect, encrypted_tables(db.metadata), known)


def _scheduled_path(folder: Path, dialect: str, now: datetime) -> Path:
    return folder / f"mild-{now:%Y%m%dT%H%M%SZ}{BACKUP_SUFFIX[dialect]}"


def _prune(folder: Path, dialect: str, keep: int) -> list[Path]:
    """Delete the oldest scheduled backups beyond ``keep`` (only files this command named); return them."""
    backups = sorted(folder.glob(f"mild-*{BACKUP_SUFFIX[dialect]}"))
    removed = backups[:-keep] if keep > 0 else []
    for old in removed:
        old.unlink()
    return removed


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--force", is_flag=True, help="Replace PATH if it already exists.")
@click.option("--verify", is_flag=True, help="Then prove the copy restores (integrity, revision, keys).")
@click.option("--scheduled", is_flag=True,
              help="For the backup timer: a dated file in BACKUP_DIR, verified, keeping the newest BACKUP_KEEP.")
@with_appcontext
def backup_command(path: Path | None, force: bool, verify: bool, scheduled: bool) -> None:
    """Write a consistent copy of the database to PATH while the app keeps serving."""
    config, now = current_app.config, utcnow()
    dialect = db.engine.dialect.name
    if scheduled:
        folder = Path(str(config["BACKUP_DIR"])).expanduser()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path, verify = _scheduled_path(folder, dialect, now), True
    elif path is None:
        raise click.UsageError("give a PATH, or --scheduled to write into BACKUP_DIR")
    try:
        result = backup_database(db.engine.url, path, force=force)
        report = _inspect(result.path, result.dialect) if verify else None
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if report is not None and report.missing_keys:
        raise click.ClickException(f"the backup holds rows under key(s) {', '.join(sorted(report.missing_keys))}, "
                                   "which DATA_ENCRYPTION_KEYS lacks")
    removed = _prune(path.parent, dialect, int(config["BACKUP_KEEP"])) if scheduled else []
    record(db.session, "backup", now=now, staff_id=None, ip=None,
           detail={"dialect": result.dialect, "path": str(result.path), "bytes": result.size,
                   "verified": report is not None, "revision": report.revision if report else None,
                   "pruned": len(removed)})
    db.session.commit()
    click.echo(f"Backed up the {result.dialect} database to {result.path} ({result.size} bytes)"
               + (f"; verified: it restores (revision {report.revision})" if report else "")
               + (f"; removed {len(removed)} older backup(s)" if removed else "") + ".")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="Only prove PATH restores; change nothing.")
@with_appcontext
def restore_command(path: Path, check_only: bool) -> None:
    """Replace the database with the backup at PATH (stop the app first).

    SQLite: the old database, with its -wal and -shm, is kept beside it as ``…before-restore-<time>``.
    PostgreSQL: DATABASE_URL must name a new, empty database (run as the owner role).
    """
    dialect = db.engine.dialect.name
    # With two PostgreSQL roles the owner restores (it creates the tables); the runtime role could not.
    url = current_app.config.get("MIGRATION_DATABASE_URL") or db.engine.url
    try:
        report = _inspect(path, dialect)
        if report.missing_keys:
            raise click.ClickException(
                f"the backup holds rows under key(s) {', '.join(sorted(report.missing_keys))}, which "
                "DATA_ENCRYPTION_KEYS lacks: add them after the newest key and run the restore again")
        if check_only:
            click.echo(f"{path} restores: {dialect}, revision {report.revision}, every key present.")
            return
        db.session.remove()
        db.engine.dispose()  # this process's own connections close before the swap
        now = utcnow()
        if dialect == "sqlite":
            kept = restore_sqlite(path, url, current_app.extensions.get("run_lock"), now)
            moved = f" The database it replaced is kept as {kept}."
        else:
            restore_postgresql(path, url)
            moved = ""
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    record(db.session, "restore", now=now, staff_id=None, ip=None,
           detail={"file": path.name, "revision": report.revision})
    db.session.commit()
    click.echo(f"Restored {path} (revision {report.revision}).{moved} Next: `flask db upgrade`, then start the "
               "app.")
