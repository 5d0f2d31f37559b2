"""Encryption of patient contact details at rest, and keyed hashes (blind indexes) for exact-match search.

Ciphertexts are AES-256-GCM, written as ``v1.<key id>.<base64url(nonce + ciphertext)>``. The key id says
which key to decrypt with, so keys can be rotated: new data uses the newest key, old rows stay readable
until ``flask keys rotate`` re-encrypts them. Each value is bound to its column (associated data), so a
ciphertext copied into another column does not decrypt. Keys come from configuration, never the
database. ``create_app`` builds the keyring and calls ``configure``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = "v1"
NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")


class KeyConfigError(ValueError):
    """The key configuration is unusable, or a ciphertext names a key that is not configured."""


class DecryptionError(ValueError):
    """A stored value could not be decrypted: wrong key, wrong column, or tampered with."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@functools.lru_cache(maxsize=64)
def _cipher(key: bytes) -> AESGCM:
    """The AES-GCM object of ``key``, made once: setting up the key costs more than sealing a short value."""
    return AESGCM(key)


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """Read ``id:base64key,id:base64key`` (newest first); each key must be 32 bytes (AES-256)."""
    keys: list[tuple[str, bytes]] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        key_id, _, encoded = item.partition(":")
        if not _KEY_ID.fullmatch(key_id):
            raise KeyConfigError(f"key id {key_id!r} must be 1-16 letters, digits, '-' or '_'")
        try:
            key = _b64decode(encoded)
        except ValueError:
            raise KeyConfigError(f"key {key_id!r} is not valid base64") from None
        if len(key) != 32:
            raise KeyConfigError(f"key {key_id!r} must be 32 bytes, not {len(key)}")
        if any(existing == key_id for existing, _ in keys):
            raise KeyConfigError(f"key id {key_id!r} appears twice")
        keys.append((key_id, key))
    if not keys:
        raise KeyConfigError("DATA_ENCRYPTION_KEYS has no keys")
    return keys


def new_key_spec(key_id: str) -> str:
    """A fresh ``id:base64key`` entry to put first in DATA_ENCRYPTION_KEYS."""
    return f"{key_id}:{_b64encode(os.urandom(32))}"


@dataclass(frozen=True)
class Keyring:
    """The data keys (newest first) and the separate key for blind indexes."""

    keys: Sequence[tuple[str, bytes]]
    index_key: bytes

    @classmethod
    def from_specs(cls, data_keys: str, index_key: str) -> Keyring:
        """Build from the DATA_ENCRYPTION_KEYS and BLIND_INDEX_KEY settings."""
        try:
            index = _b64decode(index_key.strip())
        except ValueError:
            raise KeyConfigError("BLIND_INDEX_KEY is not valid base64") from None
        if len(index) < 32:
            raise KeyConfigError("BLIND_INDEX_KEY must be at least 32 bytes")
        return cls(tuple(parse_keys(data_keys)), index)

    @property
    def newest_id(self) -> str:
        """The id of the key new values are encrypted with."""
        return self.keys[0][0]

    def _key(self, key_id: str) -> bytes:
        for candidate, key in self.keys:
            if candidate == key_id:
                return key
        raise KeyConfigError(f"no configured key has id {key_id!r}")

    def encrypt(self, plaintext: str, purpose: str) -> str:
        """Encrypt ``plaintext`` for the column named by ``purpose`` under the newest key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = _cipher(self.keys[0][1]).encrypt(nonce, plaintext.encode(), purpose.encode())
        return f"{FORMAT}.{self.newest_id}.{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str, purpose: str) -> str:
        """The plaintext of a value stored by ``encrypt`` for the same ``purpose``."""
        version, key_id, body = key_id_parts(token)
        if version != FORMAT:
            raise DecryptionError("unknown ciphertext format")
        raw = _b64decode(body)
        try:
            plain = _cipher(self._key(key_id)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
        except InvalidTag:
            raise DecryptionError("value does not decrypt for this column and key") from None
        return plain.decode()

    def decryptor(self, purpose: str) -> Callable[[str], str]:
        """``decrypt`` for one column, made once for reading many values (the CSV export decrypts millions).

        Same format check, key choice by the id in each ciphertext (so values under older keys still read),
        associated data and errors as ``decrypt``; only the per-call set-up is done beforehand.
        """
        ciphers = {key_id: _cipher(key) for key_id, key in self.keys}
        associated = purpose.encode()
        urlsafe = bytes.maketrans(b"-_", b"+/")
        padding = (b"", b"===", b"==", b"=")  # by length % 4, as _b64decode pads

        def decrypt(token: str) -> str:
            try:
                version, key_id, body = token.split(".", 2)
                cipher = ciphers[key_id]
                # base64.urlsafe_b64decode without its Python layers: translate, pad, decode (non-strict, the same)
                raw = binascii.a2b_base64(body.encode("ascii").translate(urlsafe) + padding[len(body) % 4])
            except (ValueError, KeyError):  # not three parts, an unknown key id, not base64 (or not ASCII)
                return self.decrypt(token, purpose)  # raises the error ``decrypt`` gives for it
            if version != FORMAT:
                return self.decrypt(token, purpose)
            try:
                plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
            except InvalidTag:
                raise DecryptionError("value does not decrypt for this column and key") from None
            return plain.decode()

        return decrypt

    def blind_index(self, purpose: str, value: str) -> str:
        """A keyed hash of an already-normalised value, for exact-match search without the plaintext."""
        mac = hmac.new(self.index_key, purpose.encode() + b"\x00" + value.encode(), hashlib.sha256)
        return mac.hexdigest()


def key_id_parts(token: str) -> tuple[str, str, str]:
    """(format, key id, body) of a ciphertext."""
    parts = token.split(".", 2)
    if len(parts) != 3:
        raise DecryptionError("not a ciphertext")
    return parts[0], parts[1], parts[2]


_keyring: Keyring | None = None


def configure(keyring: Keyring) -> None:
    """Install the keyring used by the encrypted column types (called by ``create_app``)."""
    global _keyring  # one keyring per process, like the engine
    _keyring = keyring


def keyring() -> Keyring:
    """The configured keyring; fail loudly rather than store plaintext when there is none."""
    if _keyring is None:
        raise KeyConfigError("encryption keys are not configured")
    return _keyring
