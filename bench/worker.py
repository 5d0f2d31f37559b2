"""How fast ``flask worker`` empties the outbox (issue 24): texts per second through the Twilio adapter.

Queues ``--messages`` due texts on top of ``--history`` already-sent ones (a clinic's years of messages, so
the look-up for due rows is measured on a realistic table), starts ``--workers`` real worker processes
against a local server speaking Twilio's API that answers each text after ``--provider-ms``, and prints how
long until every text was sent and how many went per second. Twilio's own API answers in roughly 100-300 ms.

    .venv/bin/python -m bench.worker
    scripts/with-postgres.sh .venv/bin/python -m bench.worker --database postgres --workers 2
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.checks import drop_postgres_database, new_database
from bench.server import ROOT, migrate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--history", type=int, default=100_000, help="messages already sent")
    parser.add_argument("--provider-ms", type=float, default=100.0, help="the provider's answer time")
    args = parser.parse_args()

    from app import create_app
    from app.extensions import db
    from app.models import OutboxMessage, utcnow
    from tests.fake_twilio import fake_twilio, texting_config

    with tempfile.TemporaryDirectory(prefix="mild-worker-") as work, fake_twilio() as twilio:
        database_url = new_database(args.database, Path(work))
        try:
            migrate(database_url)
            app = create_app(SQLALCHEMY_DATABASE_URI=database_url)
            now = utcnow()
            with app.app_context():
                # The history is written without encryption (never read here): only its rows' count matters.
                for start in range(0, args.history, 10_000):
                    db.session.execute(insert(OutboxMessage.__table__), [
                        {"channel": "sms", "kind": "reminder", "recipient": "-", "subject": "Text: reminder",
                         "body": "-", "created_at": now, "attempts": 1, "next_attempt_at": now, "sent_at": now}
                        for _ in range(start, min(start + 10_000, args.history))])
                db.session.add_all(OutboxMessage(channel="sms", kind="call_us", recipient=f"+1415{5550000 + i:07d}",
                                                 subject="Text: call_us", body=f"Bench clinic: please call us ({i})",
                                                 created_at=now, attempts=0, next_attempt_at=now)
                                   for i in range(args.messages))
                db.session.commit()
            twilio.answer_delay = args.provider_ms / 1000
            settings = texting_config(twilio, WORKER_POLL_SECONDS="0.2")
            env = {**os.environ, "FLASK_APP": "wsgi", "FLASK_CONFIG": "development", "DATABASE_URL": database_url,
                   **{key: str(value) for key, value in settings.items()}}
            started = time.perf_counter()
            workers = [subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                       for _ in range(args.workers)]
            with app.app_context():
                while (db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                         .where(OutboxMessage.sent_at.is_(None))) or 0) > 0:
                    db.session.rollback()
                    time.sleep(0.1)
                spent = time.perf_counter() - started
                db.engine.dispose()
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=60)
        finally:
            if args.database == "postgres":
                drop_postgres_database(database_url)
        twice = sum(1 for count in Counter(m.to for m in twilio.sent).values() if count > 1)
    print(f"{args.database}, {args.workers} worker(s), {args.messages:,} texts due over {args.history:,} sent, "
          f"provider answering in {args.provider_ms:g} ms")
    print(f"  all sent in {spent:.1f} s (start-up included): {args.messages / spent:.1f} texts/s; "
          f"sent twice: {twice}; provider took {len(twilio.sent):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
