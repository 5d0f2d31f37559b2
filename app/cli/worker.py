"""``flask worker``: delivers the outbox's emails and texts when they fall due, and runs the daily digest.

Run it beside the web server (``make run`` starts both with honcho and the Procfile; deploy/systemd has a
unit). Several workers may run on PostgreSQL; on SQLite the second one refuses to start.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import click
from flask import current_app
from flask.cli import with_appcontext

from app.extensions import db
from app.platform.restore import hold_worker_lock
from app.web.mailer import deliver_pending
from app.web.messenger import run_daily_jobs

logger = logging.getLogger("app.worker")


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due and run the daily jobs once, then exit.")
@with_appcontext
def worker_command(once: bool) -> None:
    """Deliver due emails and texts, with retries, until stopped (SIGTERM or Ctrl-C finish the current message)."""
    current_app.logger  # noqa: B018 - attaches Flask's log handler, so the worker's warnings show
    try:
        lock = hold_worker_lock(db.engine.url)
    except BlockingIOError:
        raise click.ClickException("Another worker is running on this SQLite database. Run one worker with "
                                   "SQLite; several can run with PostgreSQL.") from None
    stop = threading.Event()

    def finish(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    poll = float(current_app.config["WORKER_POLL_SECONDS"])
    click.echo(f"Worker {os.getpid()} started: looking for due messages every {poll:g} s.")
    try:
        while not stop.is_set():
            busy = False
            try:
                report = deliver_pending()
                run_daily_jobs()
                busy = report.sent + report.retrying + report.failed + report.cancelled >= 100
                if report.sent or report.retrying or report.failed or report.cancelled:
                    logger.info("Worker: sent %d, retrying %d, failed %d, cancelled %d", report.sent,
                                report.retrying, report.failed, report.cancelled)
            except Exception:  # the database restarting, a network fault: log, wait, try again
                db.session.rollback()
                logger.exception("Worker: delivery run failed; trying again in %g s", poll)
            finally:
                db.session.remove()
            if once or (not busy and stop.wait(poll)):
                break
    finally:
        if lock is not None:
            os.close(lock)
    click.echo("Worker stopped.")
