"""`make run`'s shape for real: honcho starts the web server and the worker from the Procfile, and stops both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.conftest import Databases

ROOT = Path(__file__).resolve().parents[1]
HONCHO = ROOT / ".venv" / "bin" / "honcho"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_honcho_runs_the_web_server_and_the_worker_together(tmp_path: Path, databases: Databases) -> None:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "FLASK_"))}
    env.update(FLASK_APP="wsgi", FLASK_CONFIG="development", DATABASE_URL=databases.migrated("procfile"),
               INSTANCE_PATH=str(tmp_path / "instance"), WORKER_POLL_SECONDS="0.2", PYTHONUNBUFFERED="1")
    log = tmp_path / "honcho.out"
    with log.open("wb") as out:
        honcho = subprocess.Popen([str(HONCHO), "start", "--procfile", "Procfile", "--port", str(port)], cwd=ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    status = response.status
            except OSError:
                time.sleep(0.3)
        assert status == 200, log.read_text()
        deadline = time.monotonic() + 30
        while "worker" not in log.read_text() or "started: looking for due messages" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        honcho.send_signal(signal.SIGTERM)
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
    assert "Worker stopped." in log.read_text()
