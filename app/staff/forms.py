"""Staff console forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from app.extensions import db
from app.models import ROLES
from app.scheduling.times import WEEKDAYS
from app.security.accounts import AccountError, check_password_rules, find_by_email, normalise_email


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email address", validators=[DataRequired("Enter your email address"), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password"), Length(max=256)])


class LoginCodeForm(FlaskForm):
    """The second sign-in step: the code from the authenticator app, or a recovery code."""

    code = StringField("Code", validators=[DataRequired("Enter the code from your app, or a recovery code"),
                                           Length(max=32)])


class EnrolForm(FlaskForm):
    """Confirms two-factor set-up: the first code the app shows."""

    code = StringField("Code from the app", validators=[DataRequired("Enter the 6-digit code from your app"),
                                                        Length(max=16)])


class LogoutForm(FlaskForm):
    """A button: signing out is a POST with a CSRF token."""


ROLE_LABELS = {"frontdesk": "Front desk", "clinician": "Clinician", "admin": "Administrator"}


class AccountForm(FlaskForm):
    """A new staff account. The rules are app.security.accounts' own, so the form and the CLI say the same thing."""

    name = StringField("Full name", validators=[DataRequired("Enter the person’s name"),
                                                Length(max=100, message="Name must be 100 characters or fewer")])
    email = EmailField("Email address", validators=[DataRequired("Enter their email address"), Length(max=254)])
    role = SelectField("Role", choices=[SelectChoice(role, ROLE_LABELS[role]) for role in ROLES],
                       validators=[InputRequired("Choose a role")])
    password = PasswordField("First password", validators=[DataRequired("Enter a first password")])

    def validate_email(self, field: EmailField) -> None:
        """A valid address that no account uses yet."""
        try:
            address = normalise_email(field.data or "")
        except AccountError as exc:
            raise ValidationError(str(exc)) from None
        if find_by_email(db.session, address) is not None:
            raise ValidationError(f"An account for {address} already exists")

    def validate_password(self, field: PasswordField) -> None:
        """At least 12 characters (the length rule, no composition rules)."""
        try:
            check_password_rules(field.data or "")
        except AccountError as exc:
            raise ValidationError(str(exc)) from None


class AccountActionForm(FlaskForm):
    """A button on the accounts page (disable, enable, end sessions, reset two-factor): a POST with a CSRF token."""


class LocationForm(FlaskForm):
    """A place consultations happen."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, prefix="place", **kwargs)  # type: ignore[arg-type]  # three forms on one page

    name = StringField("Name", validators=[DataRequired("Enter the location's name"), Length(max=80)])
    address = StringField("Address", validators=[DataRequired("Enter the address patients go to"), Length(max=200)])
    phone = StringField("Phone (optional)", validators=[Length(max=40)])


class HoursForm(FlaskForm):
    """One row of the weekly template."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, prefix="hours", **kwargs)  # type: ignore[arg-type]  # three forms on one page

    location = SelectField("Location", validators=[InputRequired("Choose a location")])
    weekday = SelectField("Day", choices=[SelectChoice(str(i), day) for i, day in enumerate(WEEKDAYS)],
                          validators=[InputRequired("Choose a day")])
    start = TimeField("From", validators=[InputRequired("Enter the time the first visit starts, like 09:00")])
    end = TimeField("To", validators=[InputRequired("Enter the time the last visit ends, like 12:00")])
    visit_minutes = IntegerField("Minutes per visit", default=30,
                                 validators=[InputRequired("Enter how many minutes a visit takes")])
    seats = IntegerField("Visits at the same time", default=1,
                         validators=[InputRequired("Enter how many visits can happen at the same time")])


class ExceptionForm(FlaskForm):
    """Days (or some hours of them) when no time is offered."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, prefix="closed", **kwargs)  # type: ignore[arg-type]  # three forms on one page

    location = SelectField("Location", validate_choice=False)
    first_day = DateField("First day", validators=[InputRequired("Enter the first day")])
    last_day = DateField("Last day (optional, for one day)", validators=[Optional()])
    start = TimeField("From (optional)", validators=[Optional()])
    end = TimeField("To (optional)", validators=[Optional()])
    reason = StringField("Reason", validators=[DataRequired("Enter a reason, for example Holiday"), Length(max=80)])
