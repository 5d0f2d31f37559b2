"""CPU time per request of a patient scenario under wrk, split by process: gunicorn (master and workers), the
PostgreSQL server (when the database is one), and everything else on the machine.

Where ``bench/profile_patient.py`` shows where a worker's time goes, this shows who spends the machine's: wrk,
the app and the database share the same cores, so a database server's work per request is work the app's
workers cannot do. Reads each process's user+system time from /proc before and after a 10 s wrk run (wrk's own
time is not counted: it has exited when the second reading is taken).

    .venv/bin/python -m bench.cpu_split [--method GET|POST] [--hello] [--send]
    scripts/with-postgres.sh .venv/bin/python -m bench.cpu_split --method GET
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench.checks import create_postgres_database, drop_postgres_database
from bench.loadgen import run_wrk
from bench.server import migrate
from bench.servers import AppServer
from bench.sessions import STEP_PAGE, patient_requests

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """Every process's (kind, user+system seconds so far); kind: gunicorn, postgres or its command name."""
    found: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:  # the process ended meanwhile
            continue
        name = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        kind = "gunicorn" if b"gunicorn" in command else "postgres" if name.startswith("postgres") else "other"
        found[int(entry)] = (kind, seconds)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("GET", "POST"), default="GET", help="the step page's GET or POST")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--hello", action="store_true", help="measure the baseline (bench/hello.py, GET /) instead")
    parser.add_argument("--send", action="store_true", help="measure the send POST (/request/check) instead")
    args = parser.parse_args(argv)

    from app import create_app

    server_url = os.environ.get("TEST_DATABASE_URL", "")
    work = Path(tempfile.mkdtemp(prefix="mild-cpu-split-"))
    on_postgres = server_url.startswith("postgresql")
    url = create_postgres_database(server_url) if on_postgres else f"sqlite:///{work}/split.sqlite3"
    try:
        migrate(url)
        patients = patient_requests(create_app(SQLALCHEMY_DATABASE_URI=url), 64, "step", work / "step.txt")
        page, method, lines = f"/questions/{STEP_PAGE}", args.method, patients
        warm_lines = lines
        if args.send:
            # Every send must be a new patient's (a repeat is answered cheaply), and each wrk run starts at the
            # first line of its file: the warm-up gets patients of its own. Enough for 1,500 sends a second.
            app = create_app(SQLALCHEMY_DATABASE_URI=url)
            warm_lines = patient_requests(app, 1500 * 3, "send", work / "send-warm.txt")
            lines = patient_requests(app, int(1500 * args.seconds), "send", work / "send.txt")
            page, method = "/request/check", "POST"
        if args.hello:
            page, method, lines, warm_lines = "/", "GET", None, None
        (work / "server").mkdir()
        with AppServer(url, work / "server", workers=2, app_module="bench.hello:app" if args.hello else None) as server:
            run_wrk(server.url, path=page, connections=32, seconds=3, method=method, requests_file=warm_lines)
            before = cpu_by_process()
            load = run_wrk(server.url, path=page, connections=32, seconds=args.seconds, method=method,
                           requests_file=lines)
            after = cpu_by_process()
    finally:
        if on_postgres:
            drop_postgres_database(url)
    spent: dict[str, float] = {}
    for pid, (kind, seconds) in after.items():
        spent[kind] = spent.get(kind, 0.0) + seconds - before.get(pid, (kind, 0.0))[1]
    requests = load.rps * args.seconds
    parts = ", ".join(f"{kind} {1000 * seconds / requests:.3f}" for kind, seconds in sorted(spent.items()))
    what = f"{method} {page}{' (hello world)' if args.hello else ''}"
    print(f"{what} ({'PostgreSQL' if on_postgres else 'SQLite'}): {load.rps:.0f} req/s; "
          f"CPU ms per request: {parts}; together {1000 * sum(spent.values()) / requests:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
