"""The words of every message to a patient, per language, from the clinic's content files.

The shipped defaults are in app/platform/content/messages.toml; a clinic may change any of them in the
``[messages]`` table of its own ``en.toml`` and ``es.toml`` (CLINIC_CONTENT_DIR). A template may only use
the placeholders below, so a message can never be made to carry a patient's name or answers.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULTS = Path(__file__).resolve().parent.parent / "platform" / "content" / "messages.toml"
PLACEHOLDERS = frozenset({"clinic", "clinic_phone", "reference", "days", "when", "address", "link"})
# Texts: every kind. Emails: the kinds sent by email too, each with a subject.
TEXT_KINDS = ("acknowledgement", "visit", "reminder", "tried", "call_us", "help", "start", "confirmed",
              "reschedule", "documents_link", "booking_link")
EMAIL_KINDS = ("acknowledgement", "visit", "reminder", "tried", "call_us", "documents_link", "booking_link")
TEXT_MAX = 480  # three text segments; longer texts cost more and arrive split
LANGUAGES = ("en", "es")


class TemplateError(ValueError):
    """A message template cannot be used; the message names the file, the template and the problem."""


@dataclass(frozen=True)
class Wording:
    """One language's message templates."""

    text: Mapping[str, str]
    subject: Mapping[str, str]
    email: Mapping[str, str]

    def render_text(self, kind: str, fields: Mapping[str, str]) -> str:
        """The text message of ``kind`` with ``fields`` filled in."""
        return self.text[kind].format_map(fields)

    def render_email(self, kind: str, fields: Mapping[str, str]) -> tuple[str, str]:
        """The subject and body of the email of ``kind``."""
        return self.subject[kind].format_map(fields), self.email[kind].format_map(fields)


def _check(where: str, name: str, template: object, max_length: int | None) -> str:
    if not isinstance(template, str) or not template.strip():
        raise TemplateError(f"{where}: {name} must be non-empty text")
    try:
        used = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        raise TemplateError(f"{where}: {name} has a broken placeholder ({exc})") from None
    unknown = sorted(used - PLACEHOLDERS)
    if unknown:
        raise TemplateError(f"{where}: {name} uses {', '.join('{' + u + '}' for u in unknown)}; only "
                            f"{', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))} may be used")
    if max_length is not None and len(template) > max_length:
        raise TemplateError(f"{where}: {name} is longer than {max_length} characters")
    return template.strip()


def _section(where: str, data: Mapping[str, object], name: str, kinds: tuple[str, ...],
             defaults: Mapping[str, str] | None, max_length: int | None) -> dict[str, str]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise TemplateError(f"{where}: messages.{name} must be a table")
    unknown = sorted(set(table) - set(kinds))
    if unknown:
        raise TemplateError(f"{where}: messages.{name} has unknown message(s) {', '.join(unknown)}")
    found = {kind: _check(where, f"messages.{name}.{kind}", table[kind], max_length) for kind in table}
    if defaults is None:
        missing = [kind for kind in kinds if kind not in found]
        if missing:
            raise TemplateError(f"{where}: messages.{name} is missing {', '.join(missing)}")
        return found
    return {**defaults, **found}


def parse_wording(where: str, data: Mapping[str, object], defaults: Wording | None = None) -> Wording:
    """A language's templates from its ``[messages]`` table; kinds it leaves out come from ``defaults``."""
    if not isinstance(data, dict):
        raise TemplateError(f"{where}: [messages] must be a table")
    unknown = sorted(set(data) - {"text", "subject", "email"})
    if unknown:
        raise TemplateError(f"{where}: unknown messages table(s) {', '.join(unknown)}; use text, subject, email")
    return Wording(
        text=_section(where, data, "text", TEXT_KINDS, defaults and defaults.text, TEXT_MAX),
        subject=_section(where, data, "subject", EMAIL_KINDS, defaults and defaults.subject, 150),
        email=_section(where, data, "email", EMAIL_KINDS, defaults and defaults.email, 3000),
    )


def default_wordings() -> dict[str, Wording]:
    """The shipped templates of every language."""
    data = tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))
    return {language: parse_wording(f"{DEFAULTS} [{language}]", data[language]) for language in LANGUAGES}
