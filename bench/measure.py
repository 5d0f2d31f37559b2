"""Single measured requests: a probe that a scenario answers as it should, and the timed CSV export."""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.servers import AppServer, memory_kb

EXPORT_PATH = "/staff/requests.csv?status=all"


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
    export's helper processes, app/export_parallel.py), summed from their current resident sets (VmRSS) every
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


def export_csv(server: AppServer, cookie: str) -> dict[str, Any]:
    """Download the CSV of every request as a member of staff would; time, size, rows and peak worker memory."""
    pids = server.worker_pids()
    start_kb = max(memory_kb(pid, "VmRSS") for pid in pids)
    sampler = _PeakSampler(pids)
    sampler.start()
    connection = _connection(server.url, 900)
    began = time.monotonic()
    size = lines = 0
    error = ""
    try:
        connection.request("GET", EXPORT_PATH, headers={"Cookie": cookie})
        response = connection.getresponse()
        if response.status != 200:
            error = f"status {response.status}"
        previous = b""
        while chunk := response.read(1 << 16):
            size += len(chunk)
            lines += chunk.count(b"\r\n") + (previous.endswith(b"\r") and chunk.startswith(b"\n"))
            previous = chunk
    except (http.client.HTTPException, OSError) as failure:
        error = f"{type(failure).__name__} after {time.monotonic() - began:.1f} s"
    finally:
        connection.close()
    seconds = time.monotonic() - began
    sampler.halt.set()
    sampler.join()
    sampler.sample()
    return {
        "seconds": seconds, "megabytes": size / 1e6, "rows": max(0, lines - 1), "complete": not error,
        "error": error, "start_rss_mb": start_kb / 1024, "peak_rss_mb": max(sampler.peak_kb.values()) / 1024,
        "tree_peak_rss_mb": max(sampler.tree_peak_kb.values()) / 1024, "helpers": sampler.most_helpers,
    }
