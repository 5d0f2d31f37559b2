"""Contact details for a consultation request (spec section 2): choices, checks and normalisation.

Pure Python: the patient form uses these checks for its messages, and the workflow uses them again
before anything is stored.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.platform.i18n_marker import N_, PatientMessageError
from app.screening.questions import Option

NAME_MAX = 100
MESSAGE_MAX = 1000
EMAIL_MAX = 254

PREFERRED_CONTACT = (
    Option("phone", N_("Phone call")),
    Option("text", N_("Text message")),
    Option("email", N_("Email")),
)
BEST_TIME = (
    Option("morning", N_("Morning")),
    Option("afternoon", N_("Afternoon")),
    Option("evening", N_("Early evening")),
    Option("any", N_("Any time")),
)
PREFERRED_LANGUAGE = (
    Option("en", N_("English")),
    Option("es", N_("Spanish (Español)")),
    Option("other", N_("Another language")),
)
INSURANCE = (
    Option("medicare", N_("Medicare")),
    Option("medicare_advantage", N_("Medicare Advantage")),
    Option("private", N_("Private insurance, for example from your job")),
    Option("medicaid", N_("Medicaid")),
    Option("none", N_("I do not have insurance")),
    Option("other", N_("Other")),
    Option("not_sure", N_("I’m not sure")),
)
VOICEMAIL = (
    Option("yes", N_("Yes, you may leave a message")),
    Option("no", N_("No, do not leave a message")),
)
# The contact choices with a code and label column each in the CSV export, in its column order.
CHOICES: dict[str, tuple[Option, ...]] = {
    "preferred_contact": PREFERRED_CONTACT,
    "best_time": BEST_TIME,
    "preferred_language": PREFERRED_LANGUAGE,
    "insurance": INSURANCE,
}
# Every contact choice (the export writes voicemail as its code only, beside the other details it added).
ALL_CHOICES: dict[str, tuple[Option, ...]] = {**CHOICES, "voicemail": VOICEMAIL}
OTHER_LANGUAGE_MAX = 60
RELATIONSHIP_MAX = 60

# Messages the patient form also raises itself (app/public/forms.py).
EMAIL_NEEDED = N_("Enter an email address, or choose another way for us to contact you")
MESSAGE_TOO_LONG = N_("Your message must be %(max)s characters or fewer")
MESSAGE_CHARACTERS = N_("Your message has a hidden character that cannot be saved. Type it again without "
                        "copying it from somewhere else")
CONSENT_NEEDED = N_("Confirm that the clinic may contact you about this request")
TEXT_CONSENT_NEEDED = N_("Tick the box to let the clinic text you, or choose another way for us to contact you")
BIRTH_DATE_NEEDED = N_("Enter your date of birth")

# Bidirectional overrides can make a name display as something else on a staff screen.
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


class InvalidContact(PatientMessageError):
    """A contact detail is not acceptable; the message says how to fix it."""


@dataclass(frozen=True)
class ContactDetails:
    """Checked, normalised contact details, ready to store."""

    first_name: str
    last_name: str
    date_of_birth: date
    phone: str  # E.164
    email: str | None
    preferred_contact: str
    best_time: str
    preferred_language: str
    insurance: str
    message: str | None
    consent_contact: bool
    other_language: str | None = None  # written out when preferred_language is "other"
    voicemail: str | None = None  # "yes" or "no": may the clinic leave a voicemail message
    proxy_name: str | None = None  # someone who may answer for the patient (optional)
    proxy_relationship: str | None = None
    consent_text: bool = False  # may the clinic text this number (asked separately, only when texting is on)


def clean_name(raw: str, which: str) -> str:
    """A name in any script, 1 to 100 characters, without control characters."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    messages = _NAME_MESSAGES[which]
    if not name:
        raise InvalidContact(messages["empty"])
    if len(name) > NAME_MAX:
        raise InvalidContact(messages["long"], max=NAME_MAX)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") or ch in _BIDI_CONTROLS for ch in name):
        raise InvalidContact(messages["characters"])
    return name


def check_message(raw: str | None) -> str | None:
    """The patient's message (line breaks and tabs allowed), or None when blank; no hidden control characters.

    NUL and the bidirectional overrides are refused like in names: they can hide or reorder what staff read.
    """
    message = (raw or "").strip() or None
    if message is None:
        return None
    if len(message) > MESSAGE_MAX:
        raise InvalidContact(MESSAGE_TOO_LONG, max=MESSAGE_MAX)
    if any((unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") and ch not in "\n\t") or ch in _BIDI_CONTROLS
           for ch in message):
        raise InvalidContact(MESSAGE_CHARACTERS)
    return message


# Whole sentences per name, not "Enter your {which} name": translations need the sentence to work with.
_NAME_MESSAGES = {
    "first": {
        "empty": N_("Enter your first name"),
        "long": N_("Your first name must be %(max)s characters or fewer"),
        "characters": N_("Your first name must only include letters, spaces, hyphens and apostrophes"),
    },
    "last": {
        "empty": N_("Enter your last name"),
        "long": N_("Your last name must be %(max)s characters or fewer"),
        "characters": N_("Your last name must only include letters, spaces, hyphens and apostrophes"),
    },
}


class AgeMismatch(InvalidContact):
    """The date of birth does not fit the age given in the questionnaire: the date or the age is wrong."""


def age_on(born: date, day: date) -> int:
    """Age in whole years on ``day`` for someone born on ``born``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def check_birth_date(born: date, stated_age: int | None, today: date) -> date:
    """A real date in the past, consistent with the age given in the questionnaire (within one year)."""
    if born >= today:
        raise InvalidContact(N_("Date of birth must be in the past"))
    if born.year < 1900:
        raise InvalidContact(N_("Date of birth must be after 1900"))
    if stated_age is not None and abs(age_on(born, today) - stated_age) > 1:
        raise AgeMismatch(
            N_("This date of birth makes you %(age)s, but you told us you are %(stated)s. "
               "Check the date, or change your age in your answers"),
            age=age_on(born, today),
            stated=stated_age,
        )
    return born


def normalise_phone(raw: str, region: str) -> str:
    """The number in E.164, if it is a valid number for the clinic's region (or given with +country)."""
    text = (raw or "").strip()
    if not text:
        raise InvalidContact(N_("Enter a phone number"))
    if len(text) > 32:
        raise InvalidContact(N_("Enter a phone number, like (415) 555 0134"))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidContact(N_("Enter a phone number, like (415) 555 0134")) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact(N_("Enter a real phone number, like (415) 555 0134, with the area code"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str, region: str) -> str:
    """A stored E.164 number written the way people in the clinic's region read it."""
    try:
        number = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == region
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def normalise_email(raw: str | None) -> str | None:
    """A syntax-checked email address, or None when none was given (no DNS lookup)."""
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > EMAIL_MAX:
        raise InvalidContact(N_("Enter an email address that is %(max)s characters or fewer"), max=EMAIL_MAX)
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidContact(N_("Enter an email address in the correct format, like name@example.com")) from None


def check_choice(name: str, value: Any) -> str:
    """One of the codes for ``name``."""
    if value not in {option.code for option in ALL_CHOICES[name]}:
        raise InvalidContact(_CHOICE_MESSAGES[name])
    return str(value)


_CHOICE_MESSAGES = {
    "preferred_contact": N_("Select how you would like us to contact you"),
    "best_time": N_("Select the best time to contact you"),
    "preferred_language": N_("Select the language you would like to speak"),
    "insurance": N_("Select your health insurance, or ‘I’m not sure’"),
    "voicemail": N_("Select if the clinic may leave a voicemail message"),
}


def check_contact(data: Mapping[str, Any], *, stated_age: int | None, today: date, region: str,
                  texting: bool = False) -> ContactDetails:
    """Check every contact detail; raise InvalidContact for the first problem (forms report each field).

    With ``texting`` on, choosing text messages needs the separate permission to text; with it off, that
    permission is never recorded (nobody asked for it).
    """
    email = normalise_email(data.get("email"))
    preferred = check_choice("preferred_contact", data.get("preferred_contact"))
    if preferred == "email" and not email:
        raise InvalidContact(EMAIL_NEEDED)
    message = check_message(data.get("message"))
    if data.get("consent_contact") is not True:
        raise InvalidContact(CONSENT_NEEDED)
    consent_text = texting and data.get("consent_text") is True
    if texting and preferred == "text" and not consent_text:
        raise InvalidContact(TEXT_CONSENT_NEEDED)
    proxy_name, proxy_relationship = check_proxy(data.get("proxy_name"), data.get("proxy_relationship"))
    born = data.get("date_of_birth")
    if isinstance(born, str):
        try:
            born = date.fromisoformat(born)
        except ValueError:
            raise InvalidContact(N_("Date of birth must be a real date")) from None
    if not isinstance(born, date):
        raise InvalidContact(BIRTH_DATE_NEEDED)
    return ContactDetails(
        first_name=clean_name(data.get("first_name", ""), "first"),
        last_name=clean_name(data.get("last_name", ""), "last"),
        date_of_birth=check_birth_date(born, stated_age, today),
        phone=normalise_phone(data.get("phone", ""), region),
        email=email,
        preferred_contact=preferred,
        best_time=check_choice("best_time", data.get("best_time")),
        preferred_language=(language := check_choice("preferred_language", data.get("preferred_language"))),
        insurance=check_choice("insurance", data.get("insurance")),
        message=message,
        consent_contact=True,
        other_language=check_other_language(language, data.get("other_language")),
        voicemail=check_choice("voicemail", data.get("voicemail")),
        proxy_name=proxy_name,
        proxy_relationship=proxy_relationship,
        consent_text=consent_text,
    )


def name_key(name: str) -> str:
    """The form a name is searched by: case-insensitive in any script (ß matches SS, Á matches á)."""
    return unicodedata.normalize("NFC", name.strip()).casefold()


def email_key(email: str | None) -> str | None:
    """The form an email is compared by, for duplicate detection."""
    return email.strip().lower() if email else None


def check_other_language(preferred: str, raw: str | None) -> str | None:
    """The language written out when "Another language" is chosen (required then); None otherwise."""
    if preferred != "other":
        return None
    text = unicodedata.normalize("NFC", (raw or "").strip())
    if not text:
        raise InvalidContact(N_("Enter the language you would like to speak"))
    if len(text) > OTHER_LANGUAGE_MAX or any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidContact(N_("Language must be %(max)s letters or fewer"), max=OTHER_LANGUAGE_MAX)
    return text


def check_proxy(name: str | None, relationship: str | None) -> tuple[str | None, str | None]:
    """Someone who may answer for the patient: both their name and how they are related, or neither."""
    name = unicodedata.normalize("NFC", (name or "").strip())
    relationship = unicodedata.normalize("NFC", (relationship or "").strip())
    if not name and not relationship:
        return None, None
    if not name:
        raise InvalidContact(N_("Enter the name of the person who may answer for you"))
    if not relationship:
        raise InvalidContact(N_("Enter how they are related to you, for example daughter or friend"))
    if len(name) > NAME_MAX or any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidContact(N_("Their name must be %(max)s characters or fewer"), max=NAME_MAX)
    if len(relationship) > RELATIONSHIP_MAX or any(unicodedata.category(ch).startswith("C") for ch in relationship):
        raise InvalidContact(N_("How they are related must be %(max)s characters or fewer"), max=RELATIONSHIP_MAX)
    return name, relationship


def label(name: str, code: str | None) -> str:
    """The words for a stored contact choice code."""
    for option in ALL_CHOICES.get(name, ()):
        if option.code == code:
            return option.label
    return code or ""
