"""The rules module's speed (issue 7): ``assess`` in a tight loop, at least 50,000 assessments a second.

Run by ``make bench`` (bench/perf.py), not by ``make test``: tests/ hold no timed assertions, since a
loaded machine would fail them. The figure comes from pytest-benchmark's own statistics.
"""

from __future__ import annotations

from typing import Any

from app.screening.rules import Category, assess
from bench.patient_client import ANSWERS

TARGET_PER_SECOND = 50_000


def test_assess_per_second(benchmark: Any) -> None:
    """The spec's base case (every rule evaluated, both conditional questions asked), assessed repeatedly."""
    result = benchmark(assess, ANSWERS)
    assert result.category is Category.LIKELY  # noqa: S101 - a test
    print(f"\nassess(): {benchmark.stats.stats.ops:,.0f} per second (target {TARGET_PER_SECOND:,})")
