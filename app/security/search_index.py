"""Blind indexes: keyed hashes that let the encrypted contact details be found by exact match.

The phone, email and last name of a consultation request are stored encrypted with a fresh nonce each
time, so the database cannot compare them. Next to each one is an HMAC-SHA256 of its normalised form
under BLIND_INDEX_KEY (app/security/crypto.py): equal inputs give equal indexes, and without the key the index
reveals nothing beyond that equality. This module is the one place that decides what is normalised how;
the request workflow, the queue search, the duplicate check and ``flask keys reindex`` all use it.

The index key is separate from the data keys, so rotating the data keys leaves these values untouched.
Changing BLIND_INDEX_KEY means recomputing every index (``flask keys reindex``).
"""

from __future__ import annotations

import re
import unicodedata

from app.intake.contact import email_key, name_key
from app.security.crypto import keyring

# Part of each hash: the same value in two different roles hashes differently.
PHONE_PURPOSE = "consultation_request.phone_index"
EMAIL_PURPOSE = "consultation_request.email_index"
LAST_NAME_PURPOSE = "consultation_request.last_name_index"
SURNAME_PURPOSE = "surname_key.digest"
WORD_BREAKS = re.compile(r"[\s\-\u2010-\u2015]+")  # spaces and hyphens of any kind part the words
DROPPED = re.compile(r"[.'\u2018\u2019\u02bc`]")  # apostrophes and dots: O'Brien is obrien, St. John is st john


def phone_index(e164: str) -> str:
    """The index of a phone number already in E.164 (how requests store it and the queue search parses it)."""
    return keyring().blind_index(PHONE_PURPOSE, e164)


def email_index(email: str | None) -> str | None:
    """The index of an email address compared case-insensitively, or None when there is no address."""
    key = email_key(email)
    return None if key is None else keyring().blind_index(EMAIL_PURPOSE, key)


def last_name_index(name: str) -> str:
    """The index of a last name compared case-insensitively in any script (ß matches SS)."""
    return keyring().blind_index(LAST_NAME_PURPOSE, name_key(name))


def surname_search_key(text: str) -> str:
    """How a surname is searched: no accents, no case, no apostrophes, words parted by single spaces.

    "Hernández-García" and "hernandez garcia" give the same key; "ß" gives "ss" (case folding).
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(WORD_BREAKS.split(DROPPED.sub("", plain).strip())).strip()


def surname_keys(last_name: str) -> set[str]:
    """The blind indexes a surname is found by: the whole surname, and each of its words."""
    whole = surname_search_key(last_name)
    if not whole:
        return set()
    return {keyring().blind_index(SURNAME_PURPOSE, key) for key in {whole, *whole.split(" ")}}


def surname_query_key(text: str) -> str | None:
    """The one blind index a search text is looked up by (its whole normalised form), or None if it is empty."""
    key = surname_search_key(text)
    return keyring().blind_index(SURNAME_PURPOSE, key) if key else None


def request_indexes(*, phone: str, email: str | None, last_name: str) -> dict[str, str | None]:
    """Every blind index column of a consultation request, by column name."""
    return {
        "phone_index": phone_index(phone),
        "email_index": email_index(email),
        "last_name_index": last_name_index(last_name),
    }
