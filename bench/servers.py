"""Servers for the performance bench: bench/server.py's gunicorn, also for another WSGI app, and its memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.server import ROOT, GunicornServer, server_environment


class AppServer(GunicornServer):
    """gunicorn with the checked-in gunicorn.conf.py serving ``app_module`` (the app itself by default)."""

    def __init__(self, database_url: str, workdir: Path, workers: int = 2, app_module: str | None = None) -> None:
        super().__init__(database_url, workdir, workers=workers)
        self.app_module = app_module

    def start(self) -> None:
        """Start like ``make serve`` (``gunicorn --config gunicorn.conf.py [APP]``); wait for /healthz or /."""
        if self.app_module is None:
            super().start()
            return
        env = server_environment(self.database_url, self.port, self.workers, self.access_log)
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", self.app_module],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.starts += 1
        self._wait_for_root()

    def _wait_for_root(self) -> None:
        import time
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/", timeout=2):  # noqa: S310 - loopback
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.app_module} did not start:\n{self.output.read_text(errors='replace')[-3000:]}")

    def worker_pids(self) -> list[int]:
        """The pids of the master's children (the workers)."""
        assert self.process is not None  # noqa: S101 - called while running
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


def memory_kb(pid: int, field: str = "VmHWM") -> int:
    """A memory figure of a process from /proc (VmHWM: its peak resident set so far; VmRSS: now), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0
