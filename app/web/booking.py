"""Consultation times in the web layer: the settings from config, and times written for the patient."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date, format_time
from flask import current_app

from app.scheduling.times import BookingSettings, parse_booking_settings
from app.web.i18n import current_language

DAY_FORMATS = {"en": "EEEE, MMMM d", "es": "EEEE d 'de' MMMM"}
TIME_FORMATS = {"en": "h:mm a", "es": "H:mm"}


def booking_settings() -> BookingSettings:
    """Who may book and how far ahead, from the running app's configuration (checked at start)."""
    return parse_booking_settings(current_app.config)


def day_words(day: date, language: str | None = None) -> str:
    """``Tuesday, December 8`` (or ``martes 8 de diciembre``)."""
    language = language or current_language()
    return format_date(day, DAY_FORMATS[language], locale=language)


def time_words(moment: datetime, language: str | None = None) -> str:
    """``9:30 AM`` (or ``9:30``) in the clinic's time zone."""
    language = language or current_language()
    local = moment.astimezone(current_app.extensions["clinic"].timezone)
    return format_time(local, TIME_FORMATS[language], locale=language)


def clinic_day(moment: datetime) -> date:
    """The day ``moment`` falls on in the clinic's time zone."""
    return moment.astimezone(current_app.extensions["clinic"].timezone).date()
