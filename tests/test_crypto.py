"""The keyring: authenticated encryption bound to a column, key rotation, blind indexes."""

from __future__ import annotations

import re

import pytest

from app.security.crypto import DecryptionError, KeyConfigError, Keyring, new_key_spec

INDEX = new_key_spec("i").split(":")[1]


def test_round_trip_and_fresh_nonce() -> None:
    ring = Keyring.from_specs(new_key_spec("k1"), INDEX)
    one, two = ring.encrypt("García", "request.last_name"), ring.encrypt("García", "request.last_name")
    assert one != two and "García" not in one
    assert ring.decrypt(one, "request.last_name") == "García"
    assert one.startswith("v1.k1.")


def test_value_is_bound_to_its_column_and_tampering_is_detected() -> None:
    ring = Keyring.from_specs(new_key_spec("k1"), INDEX)
    token = ring.encrypt("+14155550100", "request.phone")
    with pytest.raises(DecryptionError):
        ring.decrypt(token, "request.email")
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DecryptionError):
        ring.decrypt(tampered, "request.phone")


def test_old_keys_still_decrypt_after_rotation() -> None:
    old = new_key_spec("k1")
    before = Keyring.from_specs(old, INDEX).encrypt("x", "p")
    after = Keyring.from_specs(f"{new_key_spec('k2')},{old}", INDEX)
    assert after.newest_id == "k2"
    assert after.decrypt(before, "p") == "x"
    with pytest.raises(KeyConfigError):
        Keyring.from_specs(new_key_spec("k3"), INDEX).decrypt(before, "p")


def test_blind_index_is_keyed_and_purpose_specific() -> None:
    ring = Keyring.from_specs(new_key_spec("k1"), INDEX)
    other = Keyring.from_specs(new_key_spec("k1"), new_key_spec("j").split(":")[1])
    assert ring.blind_index("phone", "+1415") == ring.blind_index("phone", "+1415")
    assert ring.blind_index("phone", "+1415") != ring.blind_index("email", "+1415")
    assert ring.blind_index("phone", "+1415") != other.blind_index("phone", "+1415")


@pytest.mark.parametrize("spec", ["", "k1", "k1:short", "bad id!:" + new_key_spec("x").split(":")[1],
                                  f"{new_key_spec('a')},{new_key_spec('a')}"])
def test_bad_key_configuration_is_refused(spec: str) -> None:
    with pytest.raises(KeyConfigError):
        Keyring.from_specs(spec, INDEX)


def test_a_column_decryptor_reads_and_refuses_exactly_as_decrypt() -> None:
    old = new_key_spec("k1")
    before = Keyring.from_specs(old, INDEX)
    ring = Keyring.from_specs(f"{new_key_spec('k2')},{old}", INDEX)
    decrypt = ring.decryptor("request.last_name")
    for text in ("García", "", "😀 " * 40, "=1+1"):
        assert decrypt(ring.encrypt(text, "request.last_name")) == text
        assert decrypt(before.encrypt(text, "request.last_name")) == text  # an older key, named in the value
    token = ring.encrypt("+14155550100", "request.phone")
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (token, tampered, "v2.k2." + token.split(".", 2)[2], "v1.k2", "plain", "v1.k9." + token.split(".")[2],
                "v1.k2.not*base64é"):
        with pytest.raises(Exception) as slow:
            ring.decrypt(bad, "request.last_name")
        with pytest.raises(slow.type, match=re.escape(str(slow.value))):
            decrypt(bad)
    with pytest.raises(KeyConfigError):
        Keyring.from_specs(new_key_spec("k3"), INDEX).decryptor("p")(before.encrypt("x", "p"))
