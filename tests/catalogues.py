"""The translation catalogues for tests: compile each .po to its .mo when missing or older (as ``make`` does).

``make run``, ``make serve`` and ``make test`` compile them with ``pybabel compile``; this lets a plain
``python -m pytest`` on a fresh clone see the Spanish pages too. Fuzzy entries are left out, as there.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
KEYWORDS = ("N_", "lazy_gettext")  # besides pybabel's defaults; the Makefile passes the same


def compile_catalogues() -> None:
    """Write ``messages.mo`` next to every ``messages.po`` that is newer than it (or has none)."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        partial = mo.with_suffix(".mo.partial")
        with partial.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        partial.replace(mo)  # atomic: a parallel run never reads half a file
