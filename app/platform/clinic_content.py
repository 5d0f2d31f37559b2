"""The clinic's own patient instructions (procedure day and aftercare), one TOML file per language.

Shipped defaults live in ``app/platform/content/``; a clinic points ``CLINIC_CONTENT_DIR`` at a folder with
its own ``en.toml`` and ``es.toml``. Read once at start-up: a file that is missing, unreadable or not in the
expected shape stops the app with a message naming the file and what is wrong, rather than showing
patients half a page.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from app.messaging.templates import TemplateError, Wording, default_wordings, parse_wording

DEFAULTS = Path(__file__).with_name("content")
SECTIONS = ("before", "during", "after")
MAX_ITEMS = 20
MAX_LENGTH = 300


class ContentError(ValueError):
    """A clinic content file cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class ClinicContent:
    """The clinic's instructions in one language: lines for before, during and after the procedure."""

    before: tuple[str, ...] = ()
    during: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    # The texts and emails to patients (app/messaging/templates.py); the shipped wording unless [messages] changes it.
    messages: Wording | None = field(default=None, compare=False)


def _read(path: Path, defaults: Wording | None) -> ClinicContent:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ContentError(f"{path}: cannot be read as TOML ({exc})") from None
    unknown = sorted(set(data) - set(SECTIONS) - {"messages"})
    if unknown:
        raise ContentError(f"{path}: unknown section(s) {', '.join(unknown)}; use {', '.join(SECTIONS)}, messages")
    try:
        messages = parse_wording(str(path), data.get("messages", {}), defaults) if defaults else None
    except TemplateError as exc:
        raise ContentError(str(exc)) from None
    sections: dict[str, tuple[str, ...]] = {}
    for name in SECTIONS:
        lines = data.get(name, [])
        if not isinstance(lines, list) or not all(isinstance(line, str) and line.strip() for line in lines):
            raise ContentError(f"{path}: {name} must be a list of non-empty text lines")
        if len(lines) > MAX_ITEMS or any(len(line) > MAX_LENGTH for line in lines):
            raise ContentError(f"{path}: {name} has more than {MAX_ITEMS} lines or a line over {MAX_LENGTH} "
                               "characters")
        sections[name] = tuple(line.strip() for line in lines)
    return ClinicContent(**sections, messages=messages)


def load_content(directory: str | Path | None, languages: tuple[str, ...]) -> dict[str, ClinicContent]:
    """Each language's content from ``directory`` (the shipped defaults when None or empty)."""
    folder = Path(directory) if directory else DEFAULTS
    if not folder.is_dir():
        raise ContentError(f"CLINIC_CONTENT_DIR {folder} is not a folder")
    missing = [f"{language}.toml" for language in languages if not (folder / f"{language}.toml").is_file()]
    if missing:
        raise ContentError(f"{folder}: missing {', '.join(missing)} (copy them from {DEFAULTS})")
    wordings = default_wordings()
    return {language: _read(folder / f"{language}.toml", wordings.get(language)) for language in languages}
