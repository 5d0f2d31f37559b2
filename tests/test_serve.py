"""`make serve`'s gunicorn set-up, for real: two workers, a migrated SQLite file, a patient's first steps."""

from __future__ import annotations

import http.cookiejar
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.screening.questions import PAGES
from tests.answers import answers_with
from tests.conftest import Databases
from tests.journey import csrf_token, form_data

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30


@dataclass
class Server:
    """A running gunicorn: its base URL, process and log files."""

    url: str
    process: subprocess.Popen[bytes]
    access_log: Path
    output: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn and its workers: TERM to the whole process group, KILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=35)  # graceful_timeout is 30 s; idle workers stop at once
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path, databases: Databases) -> Iterator[Server]:
    """gunicorn with gunicorn.conf.py on a free port, as `make serve` runs it (after migrating)."""
    port = _free_port()
    access_log, output = tmp_path / "access.log", tmp_path / "gunicorn.out"
    env = {
        **os.environ,
        "FLASK_CONFIG": "development",
        "DATABASE_URL": databases.migrated("serve"),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": str(access_log),
        "MAIL_DELIVER_IN_BACKGROUND": "0",
    }
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    running = Server(f"http://127.0.0.1:{port}", process, access_log, output)
    try:
        _wait_until_healthy(running)
        yield running
    finally:
        _stop(process)


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not become healthy:\n{server.output.read_text(errors='replace')}")


class Browser:
    """A cookie-keeping client on urllib (no extra dependency); follows redirects like a browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str, str]:
        """GET ``path``; return the status, the final URL's path and the body."""
        return self._open(urllib.request.Request(self.base_url + path))  # noqa: S310 - http on loopback

    def post(self, path: str, data: dict[str, object]) -> tuple[int, str, str]:
        """POST a form to ``path`` and follow the redirect."""
        body = urllib.parse.urlencode(data, doseq=True).encode()
        return self._open(urllib.request.Request(self.base_url + path, data=body, method="POST"))  # noqa: S310

    def _open(self, request: urllib.request.Request) -> tuple[int, str, str]:
        with self.opener.open(request, timeout=10) as response:
            return response.status, urllib.parse.urlsplit(response.url).path, response.read().decode()


def test_gunicorn_serves_the_patient_pages_with_two_workers(server: Server) -> None:
    browser = Browser(server.url)
    status, _, body = browser.get("/")
    assert status == 200
    assert f'href="/questions/{PAGES[0].slug}"' in body

    answers = answers_with()
    path = f"/questions/{PAGES[0].slug}"
    for page in PAGES[:3]:
        assert path == f"/questions/{page.slug}"
        status, _, body = browser.get(path)
        assert status == 200
        status, path, _ = browser.post(path, {"csrf_token": csrf_token(body), **form_data(page, answers)})
        assert status == 200
    assert path.startswith("/questions/")  # the draft (cookie + server side) carried across requests

    status, _, body = browser.get("/healthz?q=secret")
    assert (status, body.strip()) == (200, '{"status":"ok"}')

    _stop(server.process)  # flushes and closes the access log
    log = server.access_log.read_text()
    assert '"GET /healthz" 200' in log
    assert f'"POST /questions/{PAGES[0].slug}" 303' in log
    assert "secret" not in log
    assert "?" not in log
    workers = server.output.read_text().count("Booting worker")
    assert workers == 2
