"""What the dashboard page shows: each chart with the table of the same numbers beside it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.casework.dashboard import CATEGORIES, Stats
from app.casework.dashboard_charts import Chart, Series, bar_chart
from app.casework.status import OUTCOME_LABELS, OUTCOMES, STATUS_LABELS, STATUSES

CATEGORY_WORDS = {"emergency": "Emergency", "likely": "Likely", "possible": "Possible", "unlikely": "Unlikely"}


@dataclass(frozen=True)
class Table:
    """A data table: caption, column headings, and rows each led by a row heading."""

    caption: str
    columns: list[str]
    rows: list[tuple[str, list[str]]]


@dataclass(frozen=True)
class Figure:
    """One chart and its table."""

    chart: Chart
    table: Table


def counted(count: int, one: str, many: str) -> str:
    """``count`` with its noun in the right number: "1 request", "2 requests", "0 requests"."""
    return f"{count} {one if count == 1 else many}"


def percent(share: float | None) -> str:
    """A share as a whole percentage, or a dash when there is nothing to divide by."""
    return "–" if share is None else f"{share * 100:.0f}%"


def hours(value: float | None) -> str:
    """Hours with one decimal, or a dash when nothing was measured."""
    return "–" if value is None else f"{value:.1f} h"


def week_label(stats: Stats) -> str:
    """'17 Nov': the Monday a week starts on."""
    return f"{stats.period.first_day:%d %b}".lstrip("0")


def _table(caption: str, first: str, weeks: Sequence[Stats], columns: dict[str, Callable[[Stats], str]]) -> Table:
    return Table(caption, [first, *columns], [
        (f"{s.period.first_day:%d %b %Y}".lstrip("0"), [read(s) for read in columns.values()]) for s in weeks])


def weekly_figures(weeks: Sequence[Stats]) -> list[Figure]:
    """The four weekly charts with their tables."""
    labels = [week_label(s) for s in weeks]
    first = "Week starting"
    activity = bar_chart(
        "chart-activity", "Screenings completed and requests sent, per week",
        f"{counted(sum(s.screenings for s in weeks), 'screening', 'screenings')} and "
        f"{counted(sum(s.requests for s in weeks), 'request', 'requests')} in {counted(len(weeks), 'week', 'weeks')}",
        labels,
        [Series("Screenings completed", "chart-screenings", [s.screenings for s in weeks]),
         Series("Requests sent", "chart-requests", [s.requests for s in weeks])])
    categories = bar_chart(
        "chart-categories", "Screening results by category, per week",
        "Stacked bars: " + ", ".join(f"{sum(s.screenings_by_category[c] for s in weeks)} {c}" for c in CATEGORIES),
        labels, [Series(CATEGORY_WORDS[c], f"chart-{c}", [s.screenings_by_category[c] for s in weeks])
                 for c in CATEGORIES], stacked=True)
    waits = bar_chart(
        "chart-waits", "Median hours from request to first contact attempt and to scheduled, per week of request",
        "Weeks without a contact attempt or appointment have no bar", labels,
        [Series("To first contact attempt", "chart-contact", [s.median_hours_to_contact for s in weeks]),
         Series("To scheduled", "chart-scheduled", [s.median_hours_to_scheduled for s in weeks])],
        unit=" h", integer=False)
    statuses = bar_chart(
        "chart-statuses", "Requests by status now, per week sent",
        "Stacked bars: " + ", ".join(f"{sum(s.requests_by_status[c] for s in weeks)} {STATUS_LABELS[c].lower()}"
                                     for c in STATUSES),
        labels, [Series(STATUS_LABELS[c], f"chart-status-{c}", [s.requests_by_status[c] for s in weeks])
                 for c in STATUSES], stacked=True)
    return [
        Figure(activity, _table("Screenings and requests per week", first, weeks, {
            "Screenings completed": lambda s: str(s.screenings), "Requests sent": lambda s: str(s.requests),
            "Share of screenings with a request": lambda s: percent(s.share),
            "Emergency results": lambda s: str(s.emergencies),
            "Sent to emergency care from the warning signs page": lambda s: str(s.emergency_screens)})),
        Figure(categories, _table("Screening results by category per week", first, weeks, {
            CATEGORY_WORDS[c]: (lambda s, c=c: str(s.screenings_by_category[c])) for c in CATEGORIES})),
        Figure(waits, _table("Median hours to first contact attempt and to scheduled", first, weeks, {
            "To first contact attempt": lambda s: hours(s.median_hours_to_contact),
            "Requests contacted": lambda s: str(len(s.to_contact)),
            "To scheduled": lambda s: hours(s.median_hours_to_scheduled),
            "Requests scheduled": lambda s: str(len(s.to_scheduled))})),
        Figure(statuses, _table("Requests by status now, per week sent", first, weeks, {
            STATUS_LABELS[c]: (lambda s, c=c: str(s.requests_by_status[c])) for c in STATUSES})),
    ]


def range_figures(stats: Stats) -> tuple[Table, list[Figure]]:
    """The chosen range: its key figures, and charts of its category mix and statuses."""
    key = Table("Key figures", ["Measure", "Value"], [
        ("Screenings completed", [str(stats.screenings)]),
        ("Requests sent", [str(stats.requests)]),
        ("Share of screenings with a request", [percent(stats.share)]),
        ("Emergency results", [str(stats.emergencies)]),
        ("Sent to emergency care from the warning signs page", [str(stats.emergency_screens)]),
        ("Median time to first contact attempt", [f"{hours(stats.median_hours_to_contact)} "
                                                  f"({counted(len(stats.to_contact), 'request', 'requests')} "
                                                  "contacted)"]),
        ("Median time to scheduled", [f"{hours(stats.median_hours_to_scheduled)} "
                                      f"({counted(len(stats.to_scheduled), 'request', 'requests')} scheduled)"]),
        *((f"Closed: {OUTCOME_LABELS[o].lower()}", [str(stats.requests_by_outcome[o])]) for o in OUTCOMES),
    ])
    words = [CATEGORY_WORDS[c] for c in CATEGORIES]
    categories = bar_chart(
        "chart-range-categories", "Screenings and requests by category", "Grouped bars per category", words,
        [Series("Screenings", "chart-screenings", [stats.screenings_by_category[c] for c in CATEGORIES]),
         Series("Requests", "chart-requests", [stats.requests_by_category[c] for c in CATEGORIES])])
    statuses = bar_chart(
        "chart-range-statuses", "Requests by status now", "One bar per status",
        [STATUS_LABELS[c] for c in STATUSES],
        [Series("Requests", "chart-requests", [stats.requests_by_status[c] for c in STATUSES])])
    return key, [
        Figure(categories, Table("Screenings and requests by category", ["Category", "Screenings", "Requests"], [
            (CATEGORY_WORDS[c], [str(stats.screenings_by_category[c]), str(stats.requests_by_category[c])])
            for c in CATEGORIES])),
        Figure(statuses, Table("Requests by status now", ["Status", "Requests"], [
            (STATUS_LABELS[c], [str(stats.requests_by_status[c])]) for c in STATUSES])),
    ]
