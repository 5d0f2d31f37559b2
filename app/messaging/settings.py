"""Parsing the messaging settings (read by the app and by the settings check, so kept free of the models)."""

from __future__ import annotations

import re
from datetime import timedelta

_OFFSET = re.compile(r"^\s*(\d{1,4})\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_reminders(text: str) -> tuple[timedelta, ...]:
    """``2d,2h`` (VISIT_REMINDERS) as (2 days, 2 hours), longest first; raises ValueError otherwise. Empty = none."""
    found = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _OFFSET.match(part)
        if not match:
            raise ValueError(f"VISIT_REMINDERS: {part!r} is not a number of days (d), hours (h) or minutes (m), "
                             "e.g. VISIT_REMINDERS=2d,2h")
        found.append(timedelta(**{_UNITS[match[2]]: int(match[1])}))
    return tuple(sorted(found, reverse=True))
