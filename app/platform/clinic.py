"""The clinic's details, read from configuration so no practice is hard-coded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from app.platform.working_time import WorkingWeek, parse_working_hours

# Each order's date boxes, first to last.
DATE_ORDERS = {"MDY": ("month", "day", "year"), "DMY": ("day", "month", "year")}


@dataclass(frozen=True)
class Clinic:
    """Who the patient is screening with, and how to reach them."""

    name: str
    phone: str
    address: str
    hours: str
    timezone: ZoneInfo
    phone_region: str
    emergency_number: str
    callback_days: int
    hours_es: str = ""  # the hours written for the Spanish pages; empty = Spanish pages leave them out
    date_order: str = "MDY"  # MDY (US) or DMY: the date boxes' order, and how English dates are written
    privacy_url: str = ""  # the clinic's own privacy notice; empty = this app's privacy page
    working_week: WorkingWeek | None = None  # the front desk's days and hours: when a request falls due

    @property
    def week(self) -> WorkingWeek:
        """The working week (Monday to Friday, 8 to 5 in the clinic's zone when none was configured)."""
        return self.working_week or parse_working_hours("Mon-Fri", "08:00-17:00", "", self.timezone)

    def due_at(self, submitted: datetime) -> datetime:
        """When a request sent at ``submitted`` is due: the callback promise in working days and hours."""
        return self.week.due_at(submitted, self.callback_days)

    def overdue_cutoff(self, now: datetime) -> datetime:
        """Requests sent at or before this moment are overdue at ``now``."""
        return self.week.overdue_cutoff(now, self.callback_days)

    @property
    def date_parts(self) -> tuple[str, ...]:
        """The date boxes in the order the clinic's patients write a date."""
        return DATE_ORDERS[self.date_order]

    def hours_for(self, language: str) -> str:
        """The opening hours in ``language`` (``en`` or ``es``); empty when none are written in that language.

        Spanish pages never show the English hours: a Spanish reader would get a sentence half in English.
        """
        return self.hours_es if language == "es" else self.hours

    @property
    def phone_display(self) -> str:
        """The clinic's phone in the national format patients dial (e.g. (415) 555-0134)."""
        try:
            number = phonenumbers.parse(self.phone, self.phone_region)
        except phonenumbers.NumberParseException:
            return self.phone
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)

    @property
    def phone_href(self) -> str:
        """A ``tel:`` link target in E.164, so a phone can dial it with one tap."""
        try:
            number = phonenumbers.parse(self.phone, self.phone_region)
        except phonenumbers.NumberParseException:
            return "tel:" + "".join(ch for ch in self.phone if ch.isdigit() or ch == "+")
        return "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Clinic:
        """Build from the ``CLINIC_*`` settings; an unknown time zone or region fails at start-up."""
        region = str(config["CLINIC_PHONE_REGION"]).upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"CLINIC_PHONE_REGION {region!r} is not a known region code")
        date_order = str(config.get("CLINIC_DATE_ORDER") or "MDY").upper()
        if date_order not in DATE_ORDERS:
            raise ValueError(f"CLINIC_DATE_ORDER {date_order!r} must be one of {', '.join(DATE_ORDERS)}")
        timezone = ZoneInfo(config["CLINIC_TIMEZONE"])
        week = parse_working_hours(str(config.get("CLINIC_WORKING_DAYS") or "Mon-Fri"),
                                   str(config.get("CLINIC_WORKING_HOURS") or "08:00-17:00"),
                                   str(config.get("CLINIC_CLOSED_DATES") or ""), timezone)
        return cls(
            name=config["CLINIC_NAME"],
            phone=config["CLINIC_PHONE"],
            address=config["CLINIC_ADDRESS"],
            hours=config["CLINIC_HOURS"],
            timezone=timezone,
            phone_region=region,
            emergency_number=config["CLINIC_EMERGENCY_NUMBER"],
            callback_days=int(config["CLINIC_CALLBACK_DAYS"]),
            hours_es=str(config.get("CLINIC_HOURS_ES") or ""),
            date_order=date_order,
            privacy_url=str(config.get("CLINIC_PRIVACY_URL") or ""),
            working_week=week,
        )
