"""A real gunicorn, started the way ``make serve`` starts it, that can be killed and restarted.

The server runs ``python -m gunicorn --config gunicorn.conf.py`` from the repository root in a process
group of its own, so :meth:`GunicornServer.kill` can SIGKILL the master and every worker at once, as a
power cut or an OOM kill of the whole service would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60.0
# The patient POST limit is per client address and every simulated patient comes from 127.0.0.1: raise
# it far above what a run can reach instead of switching the limiter off (the code path stays the same).
UNLIMITED_POSTS = "1000000000 per minute"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(database_url: str, port: int, workers: int, access_log: Path) -> dict[str, str]:
    """The environment of a benchmark server: development config, no rate limit or bot timer, no mail thread.

    An intake address is set, as a clinic sets one: each new request queues its email notice in the outbox in
    the send's transaction (nothing is sent: no mail thread, no ``flask outbox send``).
    """
    return {
        **os.environ,
        "FLASK_CONFIG": "development",
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_ACCESS_LOG": str(access_log),
        "RATELIMIT_PUBLIC_POST": UNLIMITED_POSTS,
        "RATELIMIT_REQUEST_SEND": UNLIMITED_POSTS,  # every simulated patient sends from 127.0.0.1
        "REQUESTS_PER_PHONE": "0",  # and the load cycles through 100 phone numbers
        "FORM_MIN_SECONDS": "0",
        "MAIL_DELIVER_IN_BACKGROUND": "0",
        "MAIL_INTAKE_ADDRESS": "intake@clinic.example",
    }


def migrate(database_url: str, env: Mapping[str, str] | None = None) -> None:
    """Run the migrations on ``database_url`` as ``make migrate`` does (``flask db upgrade``)."""
    environment = {**(env or os.environ), "FLASK_CONFIG": "development", "DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT, env=environment, check=True, capture_output=True,
    )


class GunicornServer:
    """gunicorn with the checked-in gunicorn.conf.py on one port; start, kill (SIGKILL), restart, stop.

    ``output`` collects the master's and workers' output over every start; ``access_log`` the access log.
    """

    def __init__(self, database_url: str, workdir: Path, workers: int = 4, port: int | None = None) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = workdir / "access.log"
        self.output = workdir / "gunicorn.out"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self) -> None:
        """Start gunicorn in a new process group and wait until /healthz answers 200."""
        env = server_environment(self.database_url, self.port, self.workers, self.access_log)
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.starts += 1
        self.wait_until_healthy()

    def wait_until_healthy(self, timeout: float = STARTUP_SECONDS) -> None:
        """Poll /healthz until it answers 200; raise RuntimeError (with the server's output) otherwise."""
        assert self.process is not None  # noqa: S101 - called after start
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become healthy:\n{self.output.read_text(errors='replace')[-5000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group (master and workers) at once, without any warning."""
        assert self.process is not None  # noqa: S101 - called after start
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kills += 1
        _wait_for_orphans(self.process.pid)

    def restart_after_kill(self) -> float:
        """Kill the server, start it again on the same port; return the seconds it was unavailable."""
        began = time.monotonic()
        self.kill()
        self.start()
        return time.monotonic() - began

    def stop(self) -> None:
        """Stop gracefully: SIGTERM to the group, SIGKILL if it lingers past the graceful timeout."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=35)  # graceful_timeout is 30 s
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        _wait_for_orphans(self.process.pid)

    def __enter__(self) -> GunicornServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _wait_for_orphans(pgid: int, timeout: float = 10.0) -> None:
    """Wait until no live process of group ``pgid`` is left (workers die a moment after their master).

    Zombies do not count: they hold no socket, and in a container nobody may reap them.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _live_members(pgid):
        time.sleep(0.05)


def _live_members(pgid: int) -> list[int]:
    """Pids of group ``pgid`` that are not zombies (Linux /proc; elsewhere an empty list)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members
