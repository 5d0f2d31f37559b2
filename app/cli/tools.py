"""Command-line tools: ``flask --app wsgi screening assess`` and ``reassess``, ``drafts purge``, ``outbox send``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click
from flask.cli import AppGroup

from app.screening import InvalidAnswers, assess

screening_cli = AppGroup("screening", help="Screening rules tools.")


@screening_cli.command("assess", with_appcontext=False)
def assess_command() -> None:
    """Read one JSON object of answers on stdin; print the assessment as JSON on stdout.

    Invalid input exits with status 2 and a JSON object naming each bad field on stderr.
    """
    try:
        answers = json.loads(sys.stdin.read())
    except json.JSONDecodeError as exc:
        _fail({"input": {"problem": "not_json", "detail": str(exc)}})
    try:
        assessment = assess(answers)
    except InvalidAnswers as exc:
        _fail(exc.as_dict())
    click.echo(json.dumps(assessment.to_dict(), indent=2, ensure_ascii=False))


@screening_cli.command("reassess")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def reassess_command(as_json: bool) -> None:
    """List the open requests whose category the current rules would change. Changes nothing.

    Stored results keep the rule set they were made under; this shows which ones staff may want to look at
    again, with the stored and the current category (or why the current rules cannot assess the answers).
    """
    from app.casework.rule_changes import changed_open_requests
    from app.extensions import db
    from app.screening import RULE_VERSION

    changed = changed_open_requests(db.session)
    if as_json:
        click.echo(json.dumps({"rule_version": RULE_VERSION, "changed": [asdict(row) for row in changed]}, indent=2))
        return
    for row in changed:
        now = row.current_category or f"cannot assess ({row.problem})"
        click.echo(f"{row.reference}  {row.rule_version}  {row.stored_category} -> {now}")
    click.echo(f"{len(changed)} open request(s) would change category under rule set {RULE_VERSION}; "
               "nothing was changed.")


def _fail(errors: dict[str, dict[str, str]]) -> None:
    """Write ``{"errors": ...}`` to stderr and exit with status 2."""
    click.echo(json.dumps({"errors": errors}, indent=2), err=True)
    sys.exit(2)


drafts_cli = AppGroup("drafts", help="Patient drafts in progress.")


@drafts_cli.command("purge")
def purge_command() -> None:
    """Delete drafts that have expired (idle longer than DRAFT_IDLE_TIMEOUT)."""
    from flask import current_app

    from app.extensions import db
    from app.intake.drafts import purge_expired
    from app.models import utcnow

    removed = purge_expired(db.session, utcnow(), current_app.config["DRAFT_IDLE_TIMEOUT"])
    db.session.commit()
    click.echo(f"Removed {removed} expired draft(s).")


outbox_cli = AppGroup("outbox", help="Outgoing email (notices of new requests).")


@outbox_cli.command("send")
def send_command() -> None:
    """Send every email that is due now (new ones and retries); print what happened.

    Run it every few minutes from cron or a systemd timer: it is what retries messages that failed.
    """
    from app.web.mailer import deliver_pending

    report = deliver_pending()
    click.echo(f"Sent {report.sent}, will retry {report.retrying}, gave up on {report.failed}"
               f" (skipped {report.skipped} being sent by another worker).")
    if report.retrying or report.failed:
        raise SystemExit(1)  # the timer's unit shows a failure; the messages themselves wait for the next run
