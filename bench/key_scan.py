"""What the readiness checks cost at a clinic's largest size (issue 23): the scan for values under missing keys.

/healthz and the readiness check ask whether every encrypted value has its key. The scan reads every encrypted
table once (and stops early when a value is under an unknown key); each process does it at start, in the
background, and then at most every ten minutes. This prints how long one scan, a first (uncached) /healthz and a
whole /readyz take at the given size, SQLite or PostgreSQL (figures in BENCHMARKS.md).

    .venv/bin/python -m bench.key_scan --size 1000000
    scripts/with-postgres.sh .venv/bin/python -m bench.key_scan --database postgres --size 1000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from bench.checks import drop_postgres_database, new_database
from bench.server import migrate
from bench.sessions import ensure_staff

TOKEN = "bench-monitoring-token-" + "x" * 20


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of ``repeat`` runs of ``action``."""
    spent = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        spent.append((time.perf_counter() - start) * 1000)
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--size", type=int, default=1_000_000, help="requests in the database")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from app import create_app
    from app.extensions import db
    from app.models import ConsultationRequest
    from app.security.crypto import keyring
    from app.security.key_rotation import encrypted_tables, unknown_key_ids
    from bench import seed

    with tempfile.TemporaryDirectory(prefix="mild-keyscan-") as work:
        database_url = new_database(args.database, Path(work))
        try:
            migrate(database_url)
            app = create_app(SQLALCHEMY_DATABASE_URI=database_url, MONITORING_TOKEN=TOKEN)
            staff_id = ensure_staff(app)
            with app.app_context():
                print(f"seeding {args.size} requests ...", file=sys.stderr, flush=True)
                seed.load(db.session, args.size, staff_id)
                count = db.session.scalar(select(func.count()).select_from(ConsultationRequest))
                known = [key_id for key_id, _ in keyring().keys]
                tables = encrypted_tables(db.metadata)
                scan = timed(lambda: unknown_key_ids(db.session, tables, known), args.repeat)
            client = app.test_client()

            def first_health() -> None:
                app.extensions.pop("unknown_keys", None)
                if client.get("/healthz").status_code != 200:
                    raise SystemExit("/healthz did not answer 200: the figures would not mean anything")

            def readiness() -> None:
                app.extensions.pop("unknown_keys", None)
                client.get("/readyz", headers={"Authorization": f"Bearer {TOKEN}"})

            health = timed(first_health, args.repeat)
            cached = timed(lambda: client.get("/healthz"), args.repeat * 4)
            ready = timed(readiness, args.repeat)
            with app.app_context():
                db.engine.dispose()
        finally:
            if args.database == "postgres":
                drop_postgres_database(database_url)
    print(f"{args.database}, {count:,} requests, {len(tables)} encrypted tables; median of {args.repeat} (min-max)")
    for name, figures in (("key scan, every value readable", scan), ("/healthz, first in a process", health),
                          ("/healthz, cached (ten minutes)", cached), ("/readyz, uncached", ready)):
        print(f"  {name:34} {statistics.median(figures):9.1f} ms  ({min(figures):.1f}-{max(figures):.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
