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

from app.intake.contact import email_key, name_key
from app.security.crypto import keyring

# Part of each hash: the same value in two different roles hashes differently.
PHONE_PURPOSE = "consultation_request.phone_index"
EMAIL_PURPOSE = "consultation_request.email_index"
LAST_NAME_PURPOSE = "consultation_request.last_name_index"


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


def request_indexes(*, phone: str, email: str | None, last_name: str) -> dict[str, str | None]:
    """Every blind index column of a consultation request, by column name."""
    return {
        "phone_index": phone_index(phone),
        "email_index": email_index(email),
        "last_name_index": last_name_index(last_name),
    }
