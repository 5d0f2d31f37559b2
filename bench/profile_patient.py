"""py-spy profiles of the patient scenarios (step GET, step POST, send POST) under wrk, as bench/perf.py runs them.

Starts the app under gunicorn (2 workers, gunicorn.conf.py) on a fresh SQLite database, prepares patients
with bench/sessions.py, and for each scenario records both workers with py-spy while wrk sends 32
connections of load; prints the requests per second and the inclusive and self shares of the frames.

    .venv/bin/python -m bench.profile_patient [--seconds 10] [--only "send POST"]
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.loadgen import run_wrk
from bench.server import migrate
from bench.servers import AppServer
from bench.sessions import STEP_PAGE, patient_requests

PY_SPY = str(Path(sys.executable).parent / "py-spy")


def summarise(files: list[Path], top: int = 28, top_self: int = 14) -> str:
    """Inclusive and self shares of every frame over py-spy's raw (collapsed-stack) files."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for file in files:
        for line in file.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            samples = int(count)
            total += samples
            frames = stack.split(";")
            for frame in set(frames):  # a recursive frame counts once per sample
                inclusive[frame] += samples
            own[frames[-1]] += samples
    lines = [f"total samples {total}", "--- inclusive"]
    lines += [f"{100 * n / total:5.1f}% {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["--- self"] + [f"{100 * n / total:5.1f}% {frame}" for frame, n in own.most_common(top_self)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="wrk load per scenario (py-spy records 8 s of it)")
    parser.add_argument("--only", choices=("GET", "step POST", "send POST"), help="profile this scenario only")
    args = parser.parse_args(argv)

    from app import create_app

    work = Path(tempfile.mkdtemp(prefix="mild-profile-"))
    url = f"sqlite:///{work}/profile.sqlite3"
    migrate(url)
    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    steps = patient_requests(app, 64, "step", work / "step.txt")
    sends = patient_requests(app, 6000, "send", work / "send.txt")
    (work / "server").mkdir()
    page = f"/questions/{STEP_PAGE}"
    scenarios: list[tuple[str, dict[str, Any]]] = [
        ("GET", {"path": page, "requests_file": steps}),
        ("step POST", {"path": page, "method": "POST", "requests_file": steps}),
        ("send POST", {"path": "/request/check", "method": "POST", "requests_file": sends}),
    ]
    with AppServer(url, work / "server", workers=2) as server:
        run_wrk(server.url, path=page, connections=32, seconds=3, requests_file=steps)  # warm the workers
        for name, options in scenarios:
            if args.only and name != args.only:
                continue
            files = [work / f"{name.replace(' ', '-')}-{pid}.txt" for pid in server.worker_pids()]
            recorders = [
                subprocess.Popen(  # noqa: S603 - our own py-spy on our own workers
                    [PY_SPY, "record", "-p", str(pid), "-d", "8", "-r", "200", "-f", "raw", "-o", str(file),
                     "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for pid, file in zip(server.worker_pids(), files, strict=True)
            ]
            load = run_wrk(server.url, connections=32, seconds=args.seconds, **options)
            for recorder in recorders:
                recorder.wait()
            print(f"# {name}: {load.rps:.0f} req/s, p99 {load.p99_ms:.1f} ms")
            print(summarise(files))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
