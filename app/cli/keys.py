"""``flask keys``: make, inspect and rotate the data encryption keys; recompute the blind indexes.

Rotating the data keys: ``flask keys new k2`` prints a key; put it first in DATA_ENCRYPTION_KEYS with the
old keys after it and restart the app (new values use k2, old ones still decrypt); run
``flask keys rotate`` while the app keeps serving; once ``flask keys status`` shows nothing under the old
key, remove it from the configuration.

BLIND_INDEX_KEY is a different procedure: rotation leaves the blind indexes alone. Changing that key
makes every stored index stale, so search and duplicate detection miss older requests until
``flask keys reindex`` has run under the new key (do it in a quiet hour, or with the app stopped).
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.security.crypto import KeyConfigError, new_key_spec, parse_keys

keys_cli = AppGroup("keys", help="Data encryption keys.")

BATCH_HELP = "Rows per transaction; each batch is committed before the next is read."


@keys_cli.command("new", with_appcontext=False)
@click.argument("key_id")
def new_command(key_id: str) -> None:
    """Print a fresh data key, ``KEY_ID:base64``, to put first in DATA_ENCRYPTION_KEYS."""
    spec = new_key_spec(key_id)
    try:
        parse_keys(spec)
    except KeyConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="KEY_ID") from None
    click.echo(spec)
    click.echo("Put it first in DATA_ENCRYPTION_KEYS, keep the older keys after it, restart the app, "
               "then run `flask keys rotate`.", err=True)


@keys_cli.command("new-index-key", with_appcontext=False)
def new_index_key_command() -> None:
    """Print a fresh BLIND_INDEX_KEY (changing it means running `flask keys reindex`)."""
    click.echo(new_key_spec("index").split(":", 1)[1])


@keys_cli.command("status")
def status_command() -> None:
    """Show how many stored values are encrypted under each key id."""
    from app.extensions import db
    from app.security.crypto import keyring
    from app.security.key_rotation import NOT_ENCRYPTED, encrypted_tables, key_counts

    ring = keyring()
    configured = [key_id for key_id, _ in ring.keys]
    counts = key_counts(db.session, encrypted_tables(db.metadata))
    click.echo(f"Newest key: {ring.newest_id}")
    unreadable = 0
    for key_id in [*configured, *sorted(set(counts) - set(configured))]:
        if key_id == ring.newest_id:
            note = "newest"
        elif key_id in configured:
            note = "older: `flask keys rotate` moves these to the newest key" if counts[key_id] else "older, unused"
        else:
            note = "not a ciphertext" if key_id == NOT_ENCRYPTED else "NOT CONFIGURED: these cannot be read"
            unreadable += counts[key_id]
        click.echo(f"  {key_id}: {counts[key_id]} value(s) ({note})")
    if unreadable:
        sys.exit(1)


@keys_cli.command("rotate")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=200, show_default=True, help=BATCH_HELP)
def rotate_command(batch_size: int) -> None:
    """Re-encrypt every value that is not under the newest key, while the app keeps serving."""
    from app.casework.audit import record
    from app.extensions import db
    from app.models import utcnow
    from app.security.crypto import keyring
    from app.security.key_rotation import encrypted_tables, rotate

    ring = keyring()
    report = rotate(db.session, ring, encrypted_tables(db.metadata), batch_size)
    rows, values = sum(report.rows.values()), sum(report.values.values())
    record(db.session, "keys_rotate", now=utcnow(), staff_id=None, ip=None, detail={
        "operation": "rotate", "key": ring.newest_id, "rows": rows, "values": values,
        "tables": dict(report.rows), "unreadable": len(report.unreadable), "busy": len(report.busy),
    })
    db.session.commit()
    per_table = ", ".join(f"{name} {count}" for name, count in sorted(report.rows.items())) or "nothing to do"
    click.echo(f"Re-encrypted {values} value(s) in {rows} row(s) under key {ring.newest_id} ({per_table}).")
    _report_leftovers(report.unreadable, report.busy, "rotate")


@keys_cli.command("reindex")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=200, show_default=True, help=BATCH_HELP)
def reindex_command(batch_size: int) -> None:
    """Recompute the blind indexes (search, duplicates) under BLIND_INDEX_KEY, after changing that key."""
    from app.casework.audit import record
    from app.extensions import db
    from app.models import utcnow
    from app.security.key_rotation import reindex

    report = reindex(db.session, batch_size)
    record(db.session, "keys_rotate", now=utcnow(), staff_id=None, ip=None, detail={
        "operation": "reindex", "rows": report.updated, "unreadable": len(report.unreadable),
        "busy": len(report.busy),
    })
    db.session.commit()
    click.echo(f"Recomputed the blind indexes of {report.updated} request(s), and the name search keys of "
               f"{report.surname_keys}.")
    _report_leftovers([("consultation_request", i) for i in report.unreadable],
                      [("consultation_request", i) for i in report.busy], "reindex")


def _report_leftovers(unreadable: list[tuple[str, str]], busy: list[tuple[str, str]], command: str) -> None:
    """Name the rows that were left as they were (by table and key, never contents); exit 1 if any."""
    for table, key in unreadable:
        click.echo(f"Cannot decrypt {table} {key}: its key is not configured, or the value was altered.", err=True)
    for table, key in busy:
        click.echo(f"{table} {key} kept changing while we worked on it; run `flask keys {command}` again.", err=True)
    if unreadable or busy:
        sys.exit(1)
