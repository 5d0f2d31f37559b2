"""Drive wrk (Debian's package) with bench/load.lua and read its figures back.

wrk is a C load generator: on a 2-core machine a Python client would spend the CPU the server needs and
measure itself. Patient POSTs need their own cookie and CSRF token each; load.lua sends prepared requests
from a file (bench/sessions.py writes them), so wrk covers every scenario.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("load.lua")
THREADS = 2  # one per core: wrk's own threads, each with its share of the connections


@dataclass(frozen=True)
class Load:
    """What one wrk run measured; latencies in milliseconds."""

    requests: int
    seconds: float
    errors: int  # connection errors, timeouts and answers that are neither 2xx nor 3xx
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str:
    """The wrk executable; ``make bench`` installs Debian's package when it is missing."""
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench does this when run as root)")
    return found


def run_wrk(url: str, *, path: str = "/", method: str = "GET", connections: int = 32, seconds: float = 10,
            cookie: str = "", requests_file: Path | None = None) -> Load:
    """Load ``url + path`` with ``connections`` open connections for ``seconds``; return the figures."""
    env = {
        **os.environ,
        "BENCH_METHOD": method,
        "BENCH_PATH": path,
        "BENCH_COOKIE": cookie,
        "BENCH_REQUESTS": str(requests_file or ""),
        "BENCH_THREADS": str(min(THREADS, connections)),
    }
    command = [wrk_path(), "--latency", "-t", str(min(THREADS, connections)), "-c", str(connections),
               "-d", f"{max(1, round(seconds))}s", "--timeout", "30s", "-s", str(SCRIPT), url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("WRKJSON "))
    errors = sum(data[key] for key in ("connect_errors", "read_errors", "write_errors", "timeouts", "bad_status"))
    return Load(
        requests=data["requests"], seconds=data["duration_us"] / 1e6, errors=errors,
        p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )
