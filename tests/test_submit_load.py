"""The load-and-crash harness (bench/submit_load.py), short: patients submit while the server is SIGKILLed.

200 submissions by 16 concurrent patients against gunicorn started like ``make serve`` (two workers), on
the database the suite runs on (SQLite, or PostgreSQL under ``make test-postgres``). Halfway through, the
whole server process group is killed with SIGKILL and started again; patients retry what was not
acknowledged with the same cookies. Every acknowledged request must then be stored exactly once, under
the reference the patient was shown, with no 5xx on the way. The full run is ``make bench-reliability``.
"""

from __future__ import annotations

from pathlib import Path

from bench.submit_load import run_load, table
from tests.conftest import Databases

SUBMISSIONS = 200
CLIENTS = 16


def test_no_request_is_lost_or_duplicated_when_the_whole_server_is_killed(
    tmp_path: Path, databases: Databases
) -> None:
    figures = run_load(databases.migrated("load"), tmp_path, submissions=SUBMISSIONS, clients=CLIENTS, kills=1,
                       workers=2)
    report = table(figures)

    assert figures.kills == 1, report
    assert figures.server_starts == 2, report  # started, killed, started again
    assert figures.connection_errors > 0, report  # patients really saw the server go away, and retried
    assert figures.attempted == SUBMISSIONS, report
    assert figures.acknowledged > 0, report
    assert figures.lost == 0, report
    assert figures.duplicated == 0, report
    assert figures.server_errors_5xx == 0, report
    assert figures.server_5xx_in_access_log == 0, report
    assert figures.abandoned == 0, report
    assert figures.stored == figures.acknowledged == SUBMISSIONS, report
    assert figures.client_crashes == [], report
    assert figures.integrity in ("ok", "not applicable"), report
    assert figures.ok, report
