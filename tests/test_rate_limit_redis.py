"""Rate limits shared across processes through a real redis-server (RATELIMIT_STORAGE_URI=redis://...).

Two separate gunicorn servers stand in for the workers of one deployment: with redis storage they
spend one per-address budget between them; with the default memory:// storage each keeps its own
(the control case, which shows the first test can fail). A stopped redis must not stop a patient.

redis-server comes from Debian's package (`.ci/run` installs it). Without it these tests skip,
unless REQUIRE_REDIS=1 says the machine must have it, as in CI.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.screening.questions import PAGES
from tests.conftest import Databases
from tests.journey import csrf_token
from tests.test_serve import ROOT, Browser, Server, _free_port, _stop, _wait_until_healthy

FIRST = f"/questions/{PAGES[0].slug}"
BUDGET = 3  # patient posts per address per minute in these tests


@dataclass
class Redis:
    """A running redis-server on loopback."""

    url: str
    process: subprocess.Popen[bytes]


def _redis_server() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else "")
    if not found:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail("REQUIRE_REDIS=1 but redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    return found


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    """redis-server on a free port, no persistence, stopped afterwards."""
    binary = _redis_server()
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    try:
        yield Redis(f"redis://127.0.0.1:{port}/0", process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


@pytest.fixture
def start_server(tmp_path: Path, databases: Databases) -> Iterator[Callable[..., Server]]:
    """Start gunicorn servers (one worker each) on one migrated database, with a limit of BUDGET posts."""
    database_url = databases.migrated("ratelimit")
    started: list[Server] = []

    def start(storage_uri: str) -> Server:
        port = _free_port()
        log = tmp_path / f"gunicorn{len(started)}.out"
        env = {
            **os.environ,
            "FLASK_CONFIG": "development",
            "DATABASE_URL": database_url,
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "GUNICORN_ACCESS_LOG": str(tmp_path / f"access{len(started)}.log"),
            "MAIL_DELIVER_IN_BACKGROUND": "0",
            "RATELIMIT_STORAGE_URI": storage_uri,
            "RATELIMIT_PUBLIC_POST": f"{BUDGET} per minute",
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        server = Server(f"http://127.0.0.1:{port}", process, tmp_path / "unused", log)
        started.append(server)
        _wait_until_healthy(server)
        return server

    yield start
    for server in started:
        _stop(server.process)


@contextmanager
def _status_of_posts(servers: list[Server]) -> Iterator[Callable[[Server], int]]:
    """Post the first question page (empty, so it is shown again with errors) on a given server."""
    browsers = {server.url: Browser(server.url) for server in servers}
    tokens = {url: csrf_token(browser.get(FIRST)[2]) for url, browser in browsers.items()}

    def post(server: Server) -> int:
        try:
            return browsers[server.url].post(FIRST, {"csrf_token": tokens[server.url]})[0]
        except OSError as error:  # urllib raises HTTPError (an OSError) for 4xx/5xx
            return int(getattr(error, "code", 0))

    yield post


def test_redis_storage_shares_one_budget_between_processes(start_server: Callable[..., Server], redis: Redis) -> None:
    first, second = start_server(redis.url), start_server(redis.url)
    with _status_of_posts([first, second]) as post:
        statuses = [post(first), post(second), post(first)]
        assert statuses == [200] * BUDGET  # shown again with errors, within the budget
        assert post(second) == 429  # the other process knows the address has spent its budget
        assert post(first) == 429


def test_memory_storage_keeps_a_budget_per_process(start_server: Callable[..., Server]) -> None:
    # The control: what redis fixes. Each process counts on its own, so the address gets twice the budget.
    first, second = start_server("memory://"), start_server("memory://")
    with _status_of_posts([first, second]) as post:
        assert [post(first) for _ in range(BUDGET)] == [200] * BUDGET
        assert post(second) == 200
        assert post(first) == 429


def test_a_patient_is_served_when_redis_is_down(start_server: Callable[..., Server], redis: Redis) -> None:
    server = start_server(redis.url)
    with _status_of_posts([server]) as post:
        assert post(server) == 200
        redis.process.send_signal(signal.SIGTERM)
        redis.process.wait(timeout=10)
        # Limits fall back to per-process memory; the patient gets the page, not a 500.
        assert [post(server) for _ in range(BUDGET)] == [200] * BUDGET
        assert post(server) == 429
    assert "Traceback" not in server.output.read_text(errors="replace")
