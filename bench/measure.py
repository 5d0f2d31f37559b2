"""Single measured runs: a probe that a scenario answers as it should, and the timed ``flask export``."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.server import ROOT
from bench.servers import memory_kb


def _connection(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)


def probe(url: str, method: str, path: str, requests_file: Path | None, status: int, *, cookie: str = "",
          must_contain: str = "") -> None:
    """Send one request of a scenario (the last prepared line, if any); fail unless it gets ``status``.

    A load run counts only connection errors and 4xx/5xx; this catches a form shown again with errors
    (200 where a 303 was due) or a page that lost its rows, before the run is timed.
    """
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if requests_file is not None:
        line = requests_file.read_text().splitlines()[-1]
        headers["Cookie"], form = line.split("\t", 1)
        if method == "POST":
            body = form.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = _connection(url, 30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
    finally:
        connection.close()
    if response.status != status or must_contain not in text:
        raise RuntimeError(f"{method} {path}: {response.status} (expected {status} with {must_contain!r})\n"
                           f"{text[:2000]}")


class _PeakSampler(threading.Thread):
    """Samples the workers' peak resident memory until stopped; a killed worker keeps its last value.

    Two figures per worker: its own peak (VmHWM), and the peak of it and its descendants together (the CSV
    export command's child processes, if any), summed from their current resident sets (VmRSS) every
    0.2 s. The sum counts pages the processes share (the Python binary and libraries) once per process.
    """

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak_kb = dict.fromkeys(pids, 0)
        self.tree_peak_kb = dict.fromkeys(pids, 0)
        self.most_helpers = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(0.2)

    def sample(self) -> None:
        for pid in self.pids:
            with contextlib.suppress(OSError):  # the worker has gone (killed by gunicorn's timeout)
                self.peak_kb[pid] = max(self.peak_kb[pid], memory_kb(pid))
                helpers = descendants(pid)
                total = memory_kb(pid, "VmRSS")
                for helper in helpers:
                    with contextlib.suppress(OSError):  # a helper that has just ended
                        total += memory_kb(helper, "VmRSS")
                self.tree_peak_kb[pid] = max(self.tree_peak_kb[pid], total)
                self.most_helpers = max(self.most_helpers, len(helpers))


def descendants(pid: int) -> list[int]:
    """The process ids of ``pid``'s children, their children and so on, from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (int(text) for text in (task / "children").read_text().split()):
                found += [child, *descendants(child)]
    return found


def export_command(database_url: str, staff_email: str, out: Path) -> dict[str, Any]:
    """Run ``flask export requests`` over every request, as an operator would; time, size, rows and peak memory.

    The memory is the command's own peak (VmHWM) and, sampled every 0.2 s, the resident sets of it and any
    process it starts, summed.
    """
    env = {**os.environ, "FLASK_CONFIG": "development", "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "export", "requests", "--by", staff_email,
               "--status", "all", "--output", str(out)]
    began = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,  # noqa: S603
                               stderr=subprocess.DEVNULL, text=True)
    sampler = _PeakSampler([process.pid])
    sampler.start()
    output, _ = process.communicate()
    seconds = time.monotonic() - began
    sampler.halt.set()
    sampler.join()
    error = "" if process.returncode == 0 else f"exit status {process.returncode}: {output[-300:]}"
    size = out.stat().st_size if out.exists() else 0
    lines = 0
    if out.exists():
        with out.open("rb") as file:
            while chunk := file.read(1 << 20):
                lines += chunk.count(b"\r\n")
        out.unlink()
    return {
        "seconds": seconds, "megabytes": size / 1e6, "rows": max(0, lines - 1), "complete": not error,
        "error": error, "peak_rss_mb": max(sampler.peak_kb.values()) / 1024,
        "tree_peak_rss_mb": max(sampler.tree_peak_kb.values()) / 1024, "helpers": sampler.most_helpers,
    }
