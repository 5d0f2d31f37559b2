"""Staff console forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from app.extensions import db
from app.models import ROLES
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
