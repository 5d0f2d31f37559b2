"""Bar charts for the dashboard, laid out on the server as plain geometry.

templates/staff/_chart.html draws a ``Chart`` as SVG: no JavaScript, and no style attribute (the
Content-Security-Policy refuses inline style), only SVG geometry and the classes in app/static/staff.css.
Every chart is paired with a data table on the page; the SVG itself is one image with a title and a summary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 36  # room for the value axis and the period labels


@dataclass(frozen=True)
class Series:
    """One kind of bar: its name (legend), its CSS class (colour) and a value per label (None: no data)."""

    name: str
    css: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Bar:
    """One drawn bar and the words a pointer or screen reader gets for it."""

    x: float
    y: float
    width: float
    height: float
    css: str
    text: str


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw one chart."""

    id: str
    title: str
    summary: str
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) of each value gridline
    labels: list[tuple[float, str]]  # (x, label) under each group
    legend: list[Series]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def bar_chart(chart_id: str, title: str, summary: str, labels: Sequence[str], series: Sequence[Series], *,
              stacked: bool = False, unit: str = "", integer: bool = True) -> Chart:
    """Grouped (or ``stacked``) bars, one group per label; the value axis starts at zero, 4 gridlines up.

    ``integer``: the values are counts, so the gridlines fall on whole numbers.
    """
    totals = [sum(s.values[i] or 0 for s in series) if stacked else max((s.values[i] or 0 for s in series), default=0)
              for i in range(len(labels))]
    step = nice_ceiling(max(totals, default=0) / 4)
    if integer:
        step = max(step, 1)  # counts: whole-number gridlines
    top = step * 4
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - RIGHT - LEFT) / max(len(labels), 1)
    inner = slot * 0.8
    bar_width = inner if stacked else inner / max(len(series), 1)
    bars: list[Bar] = []
    for i, label in enumerate(labels):
        x0, base = LEFT + i * slot + slot * 0.1, float(HEIGHT - BOTTOM)
        for j, s in enumerate(series):
            value = s.values[i]
            if not value:  # nothing to draw; the table has the zero or the dash
                continue
            height = plot_height * value / top
            x = x0 if stacked else x0 + j * bar_width
            y = base - height
            bars.append(Bar(round(x, 1), round(y, 1), round(bar_width, 1), round(height, 1), s.css,
                            f"{label}, {s.name}: {_number(value)}{unit}"))
            if stacked:
                base = y
    ticks = [(round(HEIGHT - BOTTOM - plot_height * n / 4, 1), _number(top * n / 4)) for n in range(5)]
    label_positions = [(round(LEFT + (i + 0.5) * slot, 1), label) for i, label in enumerate(labels)]
    return Chart(chart_id, title, summary, bars, ticks, label_positions, list(series))
