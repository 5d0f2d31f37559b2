"""Column types and defaults shared by every model."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.sql import operators
from sqlalchemy.types import DateTime, Text, TypeDecorator


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no timezone-aware type; without this, values would come back naive and comparisons
    with aware datetimes would fail.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timestamps in UTC with tzinfo")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SealedComparator(TypeDecorator.Comparator[Any]):
    """Refuses SQL comparisons with an encrypted column, apart from IS (NOT) NULL.

    Each encryption uses a fresh nonce, so ``phone == x`` would compare two different ciphertexts and
    silently match nothing. Exact-match search goes through the blind indexes (app/security/search_index.py).
    """

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        if op in (operators.is_, operators.is_not) or (op in (operators.eq, operators.ne) and other == (None,)):
            return super().operate(op, *other, **kwargs)
        raise TypeError("an encrypted column cannot be compared or sorted in SQL; use its blind index")

    def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
        raise TypeError("an encrypted column cannot be compared or sorted in SQL; use its blind index")


class EncryptedText(TypeDecorator[str]):
    """Text stored encrypted (AES-256-GCM, see app/security/crypto.py) and read back as plaintext.

    ``purpose`` names the column; it is bound into each ciphertext so values cannot be swapped
    between columns. Subclasses store other Python types by overriding ``to_text`` and ``from_text``;
    being subclasses, they are found by everything that looks for encrypted columns (key rotation,
    the migrations' type rendering).
    """

    impl = Text
    cache_ok = True
    comparator_factory = SealedComparator

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def to_text(self, value: Any) -> str:
        """The plaintext string that is encrypted for ``value``."""
        return str(value)

    def from_text(self, text: str) -> Any:
        """The Python value for a decrypted plaintext string."""
        return text

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        from app.security.crypto import keyring

        return None if value is None else keyring().encrypt(self.to_text(value), self.purpose)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        from app.security.crypto import keyring

        return None if value is None else self.from_text(keyring().decrypt(value, self.purpose))


class EncryptedDate(EncryptedText):
    """A date stored encrypted as its ISO form (``1954-04-03``) and read back as a ``date``."""

    cache_ok = True

    def to_text(self, value: date) -> str:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError("EncryptedDate stores a date, not a datetime or text")
        return value.isoformat()

    def from_text(self, text: str) -> date:
        return date.fromisoformat(text)


class EncryptedBytes(EncryptedText):
    """Bytes (a document) stored encrypted as their base64 text and read back as ``bytes``."""

    cache_ok = True

    def to_text(self, value: bytes) -> str:
        if not isinstance(value, bytes):
            raise TypeError("EncryptedBytes stores bytes")
        return base64.b64encode(value).decode("ascii")

    def from_text(self, text: str) -> bytes:
        return base64.b64decode(text, validate=True)


class EncryptedJSON(EncryptedText):
    """A JSON object stored encrypted and read back as a dict.

    As with SQLAlchemy's own JSON type, changes inside the dict are not noticed: assign a new dict.
    """

    cache_ok = True

    def to_text(self, value: dict[str, Any]) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    def from_text(self, text: str) -> dict[str, Any]:
        loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise TypeError("EncryptedJSON holds a JSON object")
        return loaded
