"""Patient forms. Questionnaire forms are generated from the question definitions, one per page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import cache
from types import MappingProxyType
from typing import Any

from flask_babel import gettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms import BooleanField, Field, RadioField, SelectChoice, SelectMultipleField, StringField, TextAreaField
from wtforms.utils import unset_value
from wtforms.validators import StopValidation, ValidationError

from app.intake import contact, documents
from app.intake.contact import InvalidContact
from app.platform.i18n_marker import N_
from app.screening.questions import BY_FIELD, Kind, Page, Question
from app.screening.validation import FieldError, Problem, check_answer

NOT_A_NUMBER = object()  # what a non-numeric entry becomes, so check_answer reports NOT_AN_INTEGER


def _keep_none(value: Any) -> str | None:
    """Coerce a submitted choice to text without turning 'nothing chosen' into the string 'None'."""
    return None if value is None else str(value)


def to_answer(question: Question, data: Any) -> Any:
    """What the form field holds, as the answer value the rules expect."""
    if question.kind is Kind.MULTI:
        return list(data or [])
    if question.kind is Kind.INTEGER:
        text = str(data).strip() if data is not None else ""
        if not text:
            return None
        # Only plain ASCII digits: "7.5", "seven", "²" and "1e3" are not whole numbers a patient meant.
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else NOT_A_NUMBER
    return data or None


def message_for(question: Question, error: FieldError, answers: Mapping[str, Any]) -> str:
    """The patient-facing message for an invalid answer, in the page's language: what to do, not what went wrong.

    ``answers``: the patient's earlier answers, which decide the wording (``Question.required_for``).
    """
    if error.problem in (Problem.NOT_AN_INTEGER, Problem.OUT_OF_RANGE) and question.invalid_message:
        return gettext(question.invalid_message)
    if error.problem is Problem.EXCLUSIVE:
        alone = gettext(question.label_for(sorted(question.exclusive)[0]))
        return gettext("Select ‘%(alone)s’ on its own, or select the other answers that apply", alone=alone)
    return gettext(question.required_for(answers))


class AnswerCheck:
    """WTForms validator that applies the questionnaire's own check to one answer."""

    def __init__(self, question: Question) -> None:
        self.question = question

    def __call__(self, form: FlaskForm, field: Field) -> None:
        error = check_answer(self.question, to_answer(self.question, field.data))
        if error is not None:
            raise StopValidation(message_for(self.question, error, getattr(form, "earlier_answers", {})))


def _field_for(question: Question) -> Field:
    validators = [AnswerCheck(question)]
    choices = [SelectChoice(option.code, option.label) for option in question.options]
    if question.kind is Kind.MULTI:
        return SelectMultipleField(question.text, choices=choices, validate_choice=False, validators=validators)
    if question.kind is Kind.INTEGER:
        return StringField(question.text, validators=validators)
    return RadioField(question.text, choices=choices, validate_choice=False, coerce=_keep_none,
                      validators=validators)


class PageForm(FlaskForm):
    """Base of the generated questionnaire forms."""

    page: Page
    # The answers already in the draft: the wording of some questions and messages follows them.
    earlier_answers: Mapping[str, Any] = MappingProxyType({})

    def answers(self) -> dict[str, Any]:
        """This page's answers, as values the rules expect."""
        return {name: to_answer(BY_FIELD[name], self[name].data) for name in self.page.fields}


@cache
def form_class(page: Page) -> type[PageForm]:
    """The form class for one questionnaire page, built from the question definitions."""
    attrs: dict[str, Any] = {"page": page}
    attrs.update({name: _field_for(BY_FIELD[name]) for name in page.fields})
    return type(f"{page.slug.title().replace('-', '')}Form", (PageForm,), attrs)


class DateInputField(Field):
    """A date typed as day, month and year boxes (the GOV.UK date input pattern).

    The boxes are named ``<name>-day``, ``<name>-month`` and ``<name>-year``; what the patient typed is
    kept in ``parts`` so an error never clears it.
    """

    PARTS = ("day", "month", "year")

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        self.process_errors: list[str] = []
        self.raw_data = None
        if data is unset_value:
            data = None
        if isinstance(data, str):
            data = date.fromisoformat(data) if data else None
        self.object_data = data
        self.data: date | None = data
        self.parts = {"day": "", "month": "", "year": ""}
        if data is not None:
            self.parts = {"day": str(data.day), "month": str(data.month), "year": str(data.year)}
        if formdata is not None and any(f"{self.name}-{p}" in formdata for p in self.PARTS):
            self.parts = {p: (formdata.get(f"{self.name}-{p}") or "").strip()[:10] for p in self.PARTS}
            self.raw_data = list(self.parts.values())
            try:
                self.data = self._parse()
            except ValueError as exc:
                self.data = None
                self.process_errors.append(str(exc))

    # Whole sentences for each combination of missing boxes, so each can be translated as a sentence.
    MISSING_MESSAGES: dict[tuple[str, ...], str] = {  # noqa: RUF012 - a constant table
        ("day",): N_("Date of birth must include a day"),
        ("month",): N_("Date of birth must include a month"),
        ("year",): N_("Date of birth must include a year"),
        ("day", "month"): N_("Date of birth must include a day and a month"),
        ("day", "year"): N_("Date of birth must include a day and a year"),
        ("month", "year"): N_("Date of birth must include a month and a year"),
    }

    def _parse(self) -> date | None:
        missing = tuple(p for p in self.PARTS if not self.parts[p])
        if len(missing) == 3:
            return None
        if missing:
            raise ValueError(gettext(self.MISSING_MESSAGES[missing]))
        # ASCII digits only: "²" or "٣" pass str.isdigit(), and int() then fails with Python's own message.
        if not all(self.parts[p].isascii() and self.parts[p].isdigit() for p in self.PARTS):
            raise ValueError(gettext("Date of birth must be a real date, using numbers"))
        day, month, year = (int(self.parts[p]) for p in self.PARTS)
        if len(self.parts["year"]) != 4:
            raise ValueError(gettext("Year must include 4 numbers, like 1952"))
        try:
            return date(year, month, day)
        except ValueError:
            raise ValueError(gettext("Date of birth must be a real date")) from None

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:
            raise StopValidation(self.process_errors[0])
        if self.data is None:
            raise StopValidation(gettext(contact.BIRTH_DATE_NEEDED))


def _choices(name: str) -> list[SelectChoice]:
    return [SelectChoice(option.code, option.label) for option in contact.ALL_CHOICES[name]]


def _unix_newlines(value: Any) -> Any:
    """Browsers send line breaks as CRLF but count them as one character against ``maxlength``."""
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


class HoneypotForm(FlaskForm):
    """A form with a text box people never see or reach (templates/public/_honeypot.html); scripts fill it in.

    It never shows an error: a post with it filled in is dropped quietly (app/web/security.py says why).
    The name means nothing to browsers' or password managers' autofill, so a person's browser never
    fills it in for them.
    """

    ref_code = StringField("Leave this empty")

    def honeypot_filled(self) -> bool:
        """Whether something other than blanks was typed into the hidden box."""
        return bool((self.ref_code.data or "").strip())


TYPED_MAX = 2 * contact.MESSAGE_MAX  # longest box kept as typed: the message, with room to see it is too long


class ContactForm(HoneypotForm):
    """The consultation request's contact details (spec section 2)."""

    first_name = StringField("First name")
    last_name = StringField("Last name")
    date_of_birth = DateInputField("Date of birth")
    phone = StringField("Phone number")
    email = StringField("Email address (optional)")
    preferred_contact = RadioField("How should we contact you?", choices=_choices("preferred_contact"),
                                   validate_choice=False, coerce=_keep_none)
    best_time = RadioField("When is the best time to reach you?", choices=_choices("best_time"),
                           validate_choice=False, coerce=_keep_none)
    preferred_language = RadioField("Which language would you like to speak?",
                                    choices=_choices("preferred_language"), validate_choice=False,
                                    coerce=_keep_none)
    other_language = StringField("If another language, which one?")
    voicemail = RadioField("If we call and you do not answer, may we leave a voicemail message?",
                           choices=_choices("voicemail"), validate_choice=False, coerce=_keep_none)
    proxy_name = StringField("Their name")
    proxy_relationship = StringField("How are they related to you?")
    insurance = RadioField("What health insurance do you have?", choices=_choices("insurance"),
                           validate_choice=False, coerce=_keep_none)
    message = TextAreaField("Anything else you would like us to know? (optional)", filters=[_unix_newlines])
    consent_contact = BooleanField("The clinic may contact me about this request")
    consent_text = BooleanField("The clinic may send me text messages")

    def __init__(self, *args: Any, stated_age: int | None, today: date, region: str, texting: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stated_age, self.today, self.region, self.texting = stated_age, today, region, texting
        self.age_mismatch = False  # set when the date of birth does not fit the age given: offer to change the age

    def validate_first_name(self, field: Field) -> None:
        self._run(contact.clean_name, field.data, "first")

    def validate_last_name(self, field: Field) -> None:
        self._run(contact.clean_name, field.data, "last")

    def validate_date_of_birth(self, field: DateInputField) -> None:
        if field.data is not None:
            try:
                contact.check_birth_date(field.data, self.stated_age, self.today)
            except contact.AgeMismatch as exc:
                self.age_mismatch = True
                raise ValidationError(gettext(exc.message, **exc.params)) from None
            except InvalidContact as exc:
                raise ValidationError(gettext(exc.message, **exc.params)) from None

    def validate_phone(self, field: Field) -> None:
        self._run(contact.normalise_phone, field.data, self.region)

    def validate_email(self, field: Field) -> None:
        self._run(contact.normalise_email, field.data)
        if self.preferred_contact.data == "email" and not (field.data or "").strip():
            raise ValidationError(gettext(contact.EMAIL_NEEDED))

    def validate_preferred_contact(self, field: Field) -> None:
        self._run(contact.check_choice, "preferred_contact", field.data)

    def validate_best_time(self, field: Field) -> None:
        self._run(contact.check_choice, "best_time", field.data)

    def validate_preferred_language(self, field: Field) -> None:
        self._run(contact.check_choice, "preferred_language", field.data)

    def validate_other_language(self, field: Field) -> None:
        self._run(contact.check_other_language, self.preferred_language.data or "", field.data)

    def validate_voicemail(self, field: Field) -> None:
        self._run(contact.check_choice, "voicemail", field.data)

    # Each box reports only its own problem: the other one is stood in for when it is the one missing.
    def validate_proxy_name(self, field: Field) -> None:
        name, relationship = (field.data or "").strip(), (self.proxy_relationship.data or "").strip()
        if name or relationship:
            self._run(contact.check_proxy, name, relationship or "-")

    def validate_proxy_relationship(self, field: Field) -> None:
        name, relationship = (self.proxy_name.data or "").strip(), (field.data or "").strip()
        if name or relationship:
            self._run(contact.check_proxy, name or "-", relationship)

    def validate_insurance(self, field: Field) -> None:
        self._run(contact.check_choice, "insurance", field.data)

    def validate_message(self, field: Field) -> None:
        self._run(contact.check_message, field.data)

    def validate_consent_contact(self, field: Field) -> None:
        if field.data is not True:
            raise ValidationError(gettext(contact.CONSENT_NEEDED))

    def validate_consent_text(self, field: Field) -> None:
        if self.texting and self.preferred_contact.data == "text" and field.data is not True:
            raise ValidationError(gettext(contact.TEXT_CONSENT_NEEDED))

    @staticmethod
    def _run(func: Any, *args: Any) -> None:
        try:
            func(*args)
        except InvalidContact as exc:
            raise ValidationError(gettext(exc.message, **exc.params)) from None

    def typed(self, formdata: Mapping[str, str]) -> dict[str, str]:
        """This form's boxes as the browser sent them in ``formdata`` (bounded), to fill the form in again later.

        The hidden bot box and the CSRF token are left out.
        """
        names = [*(f"{self.date_of_birth.name}-{part}" for part in DateInputField.PARTS),
                 *(name for name in self._fields if name not in {"csrf_token", "ref_code", "date_of_birth"})]
        return {name: str(formdata[name])[:TYPED_MAX] for name in names if formdata.get(name) is not None}

    def contact_data(self) -> dict[str, Any]:
        """JSON-ready values to keep in the draft until the request is sent."""
        return {
            "first_name": (self.first_name.data or "").strip(),
            "last_name": (self.last_name.data or "").strip(),
            "date_of_birth": self.date_of_birth.data.isoformat() if self.date_of_birth.data else None,
            "phone": (self.phone.data or "").strip(),
            "email": (self.email.data or "").strip(),
            "preferred_contact": self.preferred_contact.data,
            "best_time": self.best_time.data,
            "preferred_language": self.preferred_language.data,
            "insurance": self.insurance.data,
            "message": (self.message.data or "").strip(),
            "consent_contact": bool(self.consent_contact.data),
            "consent_text": bool(self.consent_text.data) and self.texting,
            "other_language": (self.other_language.data or "").strip() if self.preferred_language.data == "other"
            else "",
            "voicemail": self.voicemail.data,
            "proxy_name": (self.proxy_name.data or "").strip(),
            "proxy_relationship": (self.proxy_relationship.data or "").strip(),
        }


class DocumentForm(FlaskForm):
    """One file the patient sends after their request: what it is, and the file (the domain checks its content)."""

    kind = RadioField("What are you sending?", choices=[SelectChoice(o.code, o.label) for o in documents.KINDS],
                      validate_choice=False, coerce=_keep_none)
    file = FileField("Choose a file")

    def validate_kind(self, field: Field) -> None:
        if field.data not in {option.code for option in documents.KINDS}:
            raise ValidationError(gettext(documents.CHOOSE_KIND))

    def validate_file(self, field: Field) -> None:
        if not isinstance(field.data, FileStorage) or not field.data.filename:
            raise ValidationError(gettext(documents.CHOOSE_FILE))


class ChoiceForm(FlaskForm):
    """One question answered by one radio button, its choices made by the page (a place, a day, a time)."""

    choice = RadioField(validate_choice=False, coerce=_keep_none)


class ConfirmForm(FlaskForm):
    """A button-only form (CSRF token included): confirm answers, or send the request."""


class SendRequestForm(HoneypotForm):
    """The final send of a consultation request: a button, and the hidden box that catches scripts."""
