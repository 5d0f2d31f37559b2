"""Short request references that are easy to read aloud on the phone."""

from __future__ import annotations

import re
import secrets

# No 0/O, 1/I/L: the characters people mishear or misread; no V, which sounds like B in Spanish.
ALPHABET = "ABCDEFGHJKMNPQRSTUWXYZ23456789"
# References drawn before V was dropped still have it; they must stay findable when read back.
ACCEPTED = ALPHABET + "V"
GROUP = 4


def new_reference() -> str:
    """A random reference like ``K7QM-4HXT`` (30**8, about 6.6e11, possibilities)."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(GROUP * 2))
    return f"{chars[:GROUP]}-{chars[GROUP:]}"


def normalise_reference(text: str) -> str | None:
    """A reference as typed or read back (any case, spaces or dashes), in stored form; None if it cannot be one."""
    chars = re.sub(r"[\s\-]", "", text or "").upper()
    if len(chars) != GROUP * 2 or any(ch not in ACCEPTED for ch in chars):
        return None
    return f"{chars[:GROUP]}-{chars[GROUP:]}"
