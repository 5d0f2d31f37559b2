"""The bench's table (figure, target, holds) and the machine it ran on."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """One line of the table; ``holds`` is None for figures that are context, not targets."""

    name: str
    value: str
    target: str = ""
    holds: bool | None = None


def machine(database_version: str) -> dict[str, str]:
    """What the figures depend on: cores, CPU, load, versions, date."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
        wrk_version = (wrk.stdout or wrk.stderr).split("\n")[0].split(" [")[0]
    except OSError:
        wrk_version = "missing"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "database": database_version,
        "load generator": wrk_version,
    }


def table(figures: list[Figure]) -> str:
    """The figures as a plain-text table: figure, value, target, holds (yes/no, or blank for context)."""
    header = ("figure", "measured", "target", "holds")
    rows = [header] + [(f.name, f.value, f.target, "" if f.holds is None else ("yes" if f.holds else "NO"))
                       for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown(figures: list[Figure]) -> str:
    """The same table in Markdown, for BENCHMARKS.md."""
    lines = ["| figure | measured | target | holds |", "|---|---|---|---|"]
    lines += [f"| {f.name} | {f.value} | {f.target} | {'' if f.holds is None else ('yes' if f.holds else '**no**')} |"
              for f in figures]
    return "\n".join(lines)
