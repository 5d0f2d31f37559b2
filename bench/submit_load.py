"""Load-and-crash harness: many patients submit at once, the server is SIGKILLed mid-run, nothing is lost.

Many concurrent simulated patients (threads, ``bench/patient_client.py``) each walk the whole patient flow
against a real gunicorn started like ``make serve`` (``bench/server.py``) and send a consultation request
whose message carries a unique marker. The harness records which submissions were acknowledged (the
confirmation page with its reference arrived). With ``--kills N`` the whole server process group is killed
with SIGKILL N times, spread over the run, and started again; patients retry what was not acknowledged
with the same cookies. Afterwards the database is read through the app (the marker is in an encrypted
column) and checked:

- lost: acknowledged, but not stored under the reference the patient was shown   -> must be 0
- duplicated: a marker stored more than once                                     -> must be 0
- 5xx: server errors seen by the patients                                        -> must be 0
- abandoned: submissions that never got a confirmation                           -> must be 0
- SQLite: ``PRAGMA integrity_check`` and ``foreign_key_check``                   -> must be clean

It prints a table of the figures and exits with status 1 when an invariant fails.

    .venv/bin/python -m bench.submit_load --database sqlite --submissions 5000 --clients 64 --kills 3
    scripts/with-postgres.sh .venv/bin/python -m bench.submit_load --database postgres ...
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from bench.checks import (
    count_statuses,
    drop_postgres_database,
    new_database,
    sqlite_integrity,
    stored_requests,
)
from bench.patient_client import ClientStats, GaveUp, PatientClient
from bench.server import GunicornServer, migrate


@dataclass
class Figures:
    """Everything a run measured; ``failures`` names each invariant that did not hold."""

    database: str
    database_version: str
    submissions: int
    clients: int
    workers: int
    kills_planned: int
    attempted: int = 0
    acknowledged: int = 0
    stored: int = 0  # distinct markers of this run found in the database
    stored_rows: int = 0  # request rows carrying a marker of this run
    lost: int = 0
    duplicated: int = 0
    abandoned: int = 0
    stored_not_acknowledged: int = 0
    server_errors_5xx: int = 0
    server_5xx_in_access_log: int = 0
    unexpected_responses: dict[str, int] = field(default_factory=dict)
    connection_errors: int = 0
    retries: int = 0
    restarted_walks: int = 0
    http_requests: int = 0
    kills: int = 0
    unplanned_server_exits: list[str] = field(default_factory=list)  # exits nobody here asked for
    server_starts: int = 0
    downtime_seconds: list[float] = field(default_factory=list)
    integrity: str = "not applicable"
    client_crashes: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return not self.failures


class _Run:
    """The shared state of one run: the next submission number, what was acknowledged, the counts."""

    def __init__(self, submissions: int) -> None:
        self.submissions = submissions
        self.lock = threading.Lock()
        self.next_number = 0
        self.acknowledged: dict[str, str] = {}  # marker -> reference shown
        self.abandoned: list[str] = []
        self.crashes: list[str] = []
        self.stats = ClientStats()
        self.finished = threading.Event()
        self.stop = threading.Event()  # the server cannot be brought back: take no new submission

    def take(self) -> int | None:
        with self.lock:
            if self.next_number >= self.submissions or self.stop.is_set():
                return None
            self.next_number += 1
            return self.next_number - 1


def run_load(database_url: str, workdir: Path, submissions: int, clients: int, kills: int, workers: int,
             give_up_after: float = 180.0) -> Figures:
    """Run the harness against a migrated database at ``database_url``; return the figures (checked)."""
    backend = make_url(database_url).get_backend_name()
    figures = Figures(database=backend, database_version=database_version(database_url), submissions=submissions,
                      clients=clients, workers=workers, kills_planned=kills)
    run_id = uuid.uuid4().hex[:8]
    run = _Run(submissions)
    server = GunicornServer(database_url, workdir, workers=workers)
    began = time.monotonic()
    server.start()
    try:
        patients = [threading.Thread(target=_patient, args=(run, server.url, run_id, give_up_after), daemon=True)
                    for _ in range(clients)]
        for thread in patients:
            thread.start()
        killer_errors: list[str] = []
        killer = threading.Thread(target=_supervise, args=(run, server, kills, figures, killer_errors), daemon=True)
        killer.start()
        for thread in patients:
            thread.join()
        run.finished.set()
        killer.join()
        figures.client_crashes = run.crashes + killer_errors
    finally:
        server.stop()  # gracefully: the access log is flushed
    figures.duration_seconds = round(time.monotonic() - began, 1)
    figures.kills, figures.server_starts = server.kills, server.starts
    figures.attempted = run.next_number
    figures.acknowledged = len(run.acknowledged)
    figures.abandoned = len(run.abandoned)
    stats = run.stats
    figures.server_errors_5xx = stats.server_errors
    figures.connection_errors, figures.retries = stats.connection_errors, stats.retries
    figures.restarted_walks, figures.http_requests = stats.restarts, stats.requests
    figures.unexpected_responses = dict(stats.unexpected)
    figures.server_5xx_in_access_log = sum(n for code, n in count_statuses(server.access_log).items() if code >= 500)

    stored = stored_requests(database_url, run_id)
    figures.stored = len(stored.references)
    figures.stored_rows = sum(len(refs) for refs in stored.references.values())
    figures.duplicated = stored.duplicated
    figures.lost = sum(1 for marker, reference in run.acknowledged.items()
                       if reference not in stored.references.get(marker, []))
    figures.stored_not_acknowledged = sum(1 for marker in stored.references if marker not in run.acknowledged)
    if backend == "sqlite":
        problems = sqlite_integrity(database_url)
        figures.integrity = "ok" if not problems else "; ".join(problems[:10])
    figures.failures = _failures(figures)
    return figures


def _patient(run: _Run, url: str, run_id: str, give_up_after: float) -> None:
    """One thread: submission after submission, each by a new patient (new cookies), until none is left."""
    while (number := run.take()) is not None:
        marker = f"{run_id}-{number:06d}"
        client = PatientClient(url, give_up_after=give_up_after)
        try:
            reference = client.submit(marker, number)
        except GaveUp as gave_up:
            with run.lock:
                run.abandoned.append(f"{marker}: {gave_up}")
        except Exception as error:  # a bug in the harness: report it, keep the other patients going
            with run.lock:
                run.crashes.append(f"{marker}: {error!r}")
        else:
            with run.lock:
                run.acknowledged[marker] = reference
        with run.lock:
            run.stats.add(client.stats)


def _supervise(run: _Run, server: GunicornServer, kills: int, figures: Figures, errors: list[str]) -> None:
    """Kill the whole server ``kills`` times, evenly spread over the acknowledged submissions, and restart it.

    Also watches for the server exiting when nobody here killed it (a crash, or a signal from outside the
    run): that is recorded, fails the run, and the server is started again so the patients can finish.
    """
    thresholds = [run.submissions * k // (kills + 1) for k in range(1, kills + 1)]
    while not run.finished.wait(0.05):
        assert server.process is not None  # noqa: S101 - started before this thread
        code = server.process.poll()
        try:
            if code is not None:
                figures.unplanned_server_exits.append(f"exit code {code} after {len(run.acknowledged)} acknowledged")
                server.start()
            elif thresholds and len(run.acknowledged) >= thresholds[0]:
                thresholds.pop(0)
                figures.downtime_seconds.append(round(server.restart_after_kill(), 2))
        except Exception as error:  # the server did not come back: stop handing out submissions
            errors.append(f"server restart failed: {error!r}")
            run.stop.set()
            return


def _failures(figures: Figures) -> list[str]:
    checks = {
        "acknowledged > 0": figures.acknowledged > 0,
        "lost == 0": figures.lost == 0,
        "duplicated == 0": figures.duplicated == 0,
        "5xx == 0": figures.server_errors_5xx == 0 and figures.server_5xx_in_access_log == 0,
        "abandoned == 0": figures.abandoned == 0,
        "every submission attempted": figures.attempted == figures.submissions,
        f"kills == {figures.kills_planned}": figures.kills == figures.kills_planned,
        "server never exited unasked": not figures.unplanned_server_exits,
        "no harness error": not figures.client_crashes,
        "integrity ok": figures.integrity in ("ok", "not applicable"),
    }
    return [name for name, held in checks.items() if not held]


def database_version(database_url: str) -> str:
    """The SQLite library version, or the PostgreSQL server version."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return f"PostgreSQL {connection.execute(text('SHOW server_version')).scalar()}"
    finally:
        engine.dispose()


def table(figures: Figures) -> str:
    """The figures as a plain-text table."""
    rows = [
        ("database", figures.database_version),
        ("clients / gunicorn workers", f"{figures.clients} / {figures.workers}"),
        ("submissions attempted", figures.attempted),
        ("acknowledged (reference shown)", figures.acknowledged),
        ("stored (distinct markers)", figures.stored),
        ("stored rows", figures.stored_rows),
        ("lost (must be 0)", figures.lost),
        ("duplicated (must be 0)", figures.duplicated),
        ("5xx seen by patients (must be 0)", figures.server_errors_5xx),
        ("5xx in access log (must be 0)", figures.server_5xx_in_access_log),
        ("abandoned (must be 0)", figures.abandoned),
        ("stored, not acknowledged", figures.stored_not_acknowledged),
        ("kills (SIGKILL to the group)", f"{figures.kills} of {figures.kills_planned}"),
        ("server starts", figures.server_starts),
        ("server exits nobody asked for", "; ".join(figures.unplanned_server_exits) or "0"),
        ("downtime per kill (s)", ", ".join(str(d) for d in figures.downtime_seconds) or "-"),
        ("connection errors", figures.connection_errors),
        ("retries", figures.retries),
        ("walks started over", figures.restarted_walks),
        ("unexpected responses", ", ".join(f"{k}: {v}" for k, v in figures.unexpected_responses.items()) or "0"),
        ("HTTP requests", figures.http_requests),
        ("integrity check", figures.integrity),
        ("duration (s)", figures.duration_seconds),
        ("submissions per second", round(figures.acknowledged / figures.duration_seconds, 1)
         if figures.duration_seconds else "-"),
        ("result", "OK" if figures.ok else "FAILED: " + ", ".join(figures.failures)),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (0 when every invariant held)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="postgres: a fresh database on the server of TEST_DATABASE_URL (scripts/with-postgres.sh)")
    parser.add_argument("--submissions", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of the whole server, spread over the run")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the database and server logs afterwards")
    args = parser.parse_args(argv)
    # SIGTERM (a CI timeout, a kill) unwinds like Ctrl-C, so the server and the temporary files go too.
    signal.signal(signal.SIGTERM, _terminate)

    workdir = Path(tempfile.mkdtemp(prefix="mild-bench-"))
    database_url = new_database(args.database, workdir)
    try:
        migrate(database_url)
        figures = run_load(database_url, workdir, args.submissions, args.clients, args.kills, args.workers)
    finally:
        if not args.keep:
            if args.database == "postgres":
                drop_postgres_database(database_url)
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(figures))
    if args.keep:
        print(f"database: {database_url}\nserver logs: {workdir}")
    if args.json:
        args.json.write_text(json.dumps({**asdict(figures), "ok": figures.ok}, indent=2) + "\n")
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
