"""Forms for working a request. Each carries the version it was loaded at, so stale saves are refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from app.casework.status import CONTACT_METHODS, CONTACT_OUTCOMES, EMERGENCY_STEPS, OUTCOME_LABELS, STATUS_LABELS
from app.casework.work import NOTE_MAX
from app.messaging.patient import REPLY_MAX


def _unix_newlines(value: str | None) -> str | None:
    """Browsers count a line break as one character for maxlength but send two; count it as one."""
    return value.replace("\r\n", "\n") if value else value


def _choices(labels: dict[str, str], blank: str | None = None) -> list[SelectChoice]:
    items = [SelectChoice(code, label) for code, label in labels.items()]
    return [SelectChoice("", blank), *items] if blank is not None else items


class VersionedForm(FlaskForm):
    """A work form: the request version it was loaded at rides along in a hidden field."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class AssignForm(VersionedForm):
    """Give the request to a member of staff, or to nobody."""

    assignee = SelectField("Assign to", choices=[], validate_choice=True)


class BookTimeForm(VersionedForm):
    """Book (or move to) a free consultation time: ``<location id>|<start in ISO 8601>``."""

    slot = SelectField("Free time", validate_choice=False, validators=[InputRequired("Choose a time")])

    def chosen(self) -> tuple[int, datetime] | None:
        """The location and start chosen, or None when the value is not one the page offers."""
        location, _, start = (self.slot.data or "").partition("|")
        try:
            moment = datetime.fromisoformat(start)
        except ValueError:
            return None
        return (int(location), moment.astimezone(UTC)) if location.isdigit() and moment.tzinfo else None


class TakeForm(VersionedForm):
    """Assign the request to the person signed in: "Assign to me"."""


class ContactAttemptForm(VersionedForm):
    """Record one attempt to reach the patient."""

    method = RadioField("Method", choices=_choices(CONTACT_METHODS), validators=[InputRequired("Choose the method")])
    outcome = RadioField("What happened", choices=_choices(CONTACT_OUTCOMES),
                         validators=[InputRequired("Choose what happened")])
    note = TextAreaField("Note (optional)", filters=[_unix_newlines], validators=[Optional(), Length(max=NOTE_MAX)])


APPOINTMENT_DAYS_BACK = 365  # a visit recorded after the fact
APPOINTMENT_DAYS_AHEAD = 2 * 366


class StatusForm(VersionedForm):
    """Move the request to another status; scheduling needs a date and time, closing an outcome."""

    status = SelectField("New status", choices=_choices(STATUS_LABELS), validators=[DataRequired()])
    appointment_date = DateField("Appointment date", validators=[Optional()])
    appointment_time = TimeField("Appointment time", validators=[Optional()])
    outcome = SelectField("Outcome (when closing)", choices=_choices(OUTCOME_LABELS, blank="—"),
                          validators=[Optional()])
    note = TextAreaField("Note (optional)", filters=[_unix_newlines], validators=[Optional(), Length(max=NOTE_MAX)])

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """Field checks, then what the chosen status needs (Optional() would skip per-field hooks)."""
        valid = super().validate(extra_validators)
        if self.status.data == "scheduled" and (self.appointment_date.data is None
                                                or self.appointment_time.data is None):
            self.appointment_date.errors = [*self.appointment_date.errors, "Enter the appointment date and time"]
            valid = False
        elif self.status.data == "scheduled" and not self._sensible(self.appointment_date.data):
            first, last = self._bookable()
            self.appointment_date.errors = [
                *self.appointment_date.errors,
                f"Enter an appointment date between {first:%m/%d/%Y} and {last:%m/%d/%Y}"]
            valid = False
        if self.status.data == "closed" and not self.outcome.data:
            self.outcome.errors = [*self.outcome.errors, "Choose the outcome"]
            valid = False
        return valid

    @staticmethod
    def _bookable() -> tuple[date, date]:
        """The dates an appointment may be recorded for: a visit that already happened, up to two years ahead."""
        today = date.today()
        return today - timedelta(days=APPOINTMENT_DAYS_BACK), today + timedelta(days=APPOINTMENT_DAYS_AHEAD)

    def _sensible(self, day: date) -> bool:
        first, last = self._bookable()
        return first <= day <= last

    def appointment(self, tz: ZoneInfo) -> datetime | None:
        """The appointment as an aware datetime in the clinic's time zone, if one was given."""
        day: date | None = self.appointment_date.data
        at: time | None = self.appointment_time.data
        if day is None or at is None:
            return None
        return datetime.combine(day, at, tzinfo=tz)


class NoteForm(FlaskForm):
    """A free-text note for the timeline."""

    text = TextAreaField("Note", filters=[_unix_newlines],
                         validators=[DataRequired("Enter a note"), Length(max=NOTE_MAX)])


class CallbackForm(VersionedForm):
    """The date and time the patient asked to be called back, in the clinic's time zone (or clear it)."""

    callback_date = DateField("Date", validators=[Optional()])
    callback_time = TimeField("Time", validators=[Optional()])
    clear = SubmitField("Clear call-back time")

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """A call-back needs both a date and a time, unless it is being cleared."""
        valid = super().validate(extra_validators)
        if not self.clearing and (self.callback_date.data is None or self.callback_time.data is None):
            if not self.callback_date.errors and not self.callback_time.errors:
                self.callback_date.errors = [*self.callback_date.errors, "Enter the date and the time to call back"]
            valid = False
        return valid

    @property
    def clearing(self) -> bool:
        """Whether the "Clear" button was used."""
        return bool(self.clear.data)

    def callback_at(self, tz: ZoneInfo) -> datetime | None:
        """The call-back as an aware datetime in the clinic's time zone; None when clearing."""
        if self.clearing or self.callback_date.data is None or self.callback_time.data is None:
            return None
        return datetime.combine(self.callback_date.data, self.callback_time.data, tzinfo=tz)


class EmergencyStepsForm(VersionedForm):
    """The emergency protocol: which steps were done."""

    steps = SelectMultipleField("Steps done", choices=_choices(EMERGENCY_STEPS), widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput(), validators=[DataRequired("Choose the steps you did")])
    note = TextAreaField("Note (optional)", filters=[_unix_newlines], validators=[Optional(), Length(max=NOTE_MAX)])


MESSAGE_CHOICES = {
    "tried": "We tried to reach you: please call us",
    "call_us": "Please call us about your request",
    "own": "My own short message (texts only; no health details)",
}


class MessageForm(VersionedForm):
    """Send the patient a ready-made message, or a short text of staff's own."""

    message = RadioField("Message", choices=_choices(MESSAGE_CHOICES), validators=[InputRequired("Choose a message")])
    text = TextAreaField("Your message", filters=[_unix_newlines], validators=[
        Optional(), Length(max=REPLY_MAX, message=f"A message must be {REPLY_MAX} characters or fewer")])

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """An own message needs its words."""
        valid = super().validate(extra_validators)
        if self.message.data == "own" and not (self.text.data or "").strip():
            self.text.errors = [*self.text.errors, "Type the message, or choose a ready-made one"]
            valid = False
        return valid


REPORT_CHOICES = {"yes": "Yes", "no": "No", "": "The report does not say"}


class ReportReviewForm(FlaskForm):
    """What a scan report says, as read by staff."""

    mri_recent = RadioField("Scan in the last 12 months?", choices=_choices(REPORT_CHOICES), default="")
    ligament_reported = RadioField("Thickened ligament (ligamentum flavum) reported?", choices=_choices(REPORT_CHOICES),
                                   default="")

    @staticmethod
    def answer(value: str | None) -> bool | None:
        """yes/no/"" as True/False/None."""
        return {"yes": True, "no": False}.get(value or "")
