"""Template filters for the console: times in the clinic's time zone, labels for codes."""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app

from app.casework.queue import waited
from app.intake.contact import format_phone
from app.models import utcnow
from app.staff import bp


@bp.app_template_filter("local")
def local_time(value: datetime | None, style: str = "%b %-d, %Y %-I:%M %p") -> str:
    """A UTC timestamp in the clinic's time zone, written the US way by default: "Dec 2, 2026 9:05 AM"."""
    if value is None:
        return ""
    return value.astimezone(current_app.extensions["clinic"].timezone).strftime(style)


@bp.app_template_filter("when")
def when(value: datetime | None) -> str:
    """A time a caller acts on, in the clinic's zone: "today 2:30 PM", "tomorrow 9:00 AM", "Mon Dec 7, 9:00 AM"."""
    if value is None:
        return ""
    tz = current_app.extensions["clinic"].timezone
    moment, today = value.astimezone(tz), utcnow().astimezone(tz).date()
    clock = moment.strftime("%I:%M %p").lstrip("0")
    days = (moment.date() - today).days
    if days == 0:
        return f"today {clock}"
    if days == 1:
        return f"tomorrow {clock}"
    if days == -1:
        return f"yesterday {clock}"
    return f"{moment:%a %b} {moment.day}, {clock}" if abs(days) < 180 else f"{moment:%b} {moment.day}, {moment.year}"


@bp.app_template_filter("iso")
def iso(value: datetime) -> str:
    """A timestamp for a ``datetime`` attribute: HTML allows at most three digits of a second, so whole seconds."""
    return value.isoformat(timespec="seconds")


@bp.app_template_filter("from_iso")
def from_iso(value: str) -> datetime | None:
    """A timestamp stored as ISO text in a timeline event, as a datetime (None if it is not one)."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@bp.app_template_filter("waited")
def waited_since(value: datetime) -> str:
    """How long ago, in words a caller can scan."""
    return waited(value, utcnow())


@bp.app_template_filter("phone")
def phone_display(value: str) -> str:
    """An E.164 number in the clinic region's usual format."""
    return format_phone(value, current_app.extensions["clinic"].phone_region)


@bp.app_template_filter("age_today")
def age_today(born: date) -> int:
    """Age in years today, in the clinic's time zone."""
    from app.intake.contact import age_on

    today = utcnow().astimezone(current_app.extensions["clinic"].timezone).date()
    return age_on(born, today)
