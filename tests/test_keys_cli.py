"""``flask keys``: new keys, status per key id, rotation's report, and recomputing the blind indexes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent
from app.security.crypto import Keyring, new_key_spec, parse_keys
from config import DEV_DATA_KEYS, DEV_INDEX_KEY
from tests.conftest import database_url, raw_connection
from tests.factories import seed_request
from tests.test_encryption import encrypted_values, found_by


@pytest.fixture
def restart(app_factory: Callable[..., Flask]) -> Callable[..., Flask]:
    """Start the app again on the same database with other settings."""
    return lambda app, **overrides: app_factory(database_url(app), **overrides)


def audit_details(app: Flask) -> list[dict[str, object]]:
    """The details of the keys_rotate audit rows, oldest first."""
    with app.app_context():
        return [e.detail for e in db.session.scalars(select(AuditEvent).filter_by(action="keys_rotate")
                                                     .order_by(AuditEvent.id))]


def store_under_unknown_key(app: Flask) -> None:
    """Make the first request's phone a ciphertext under a key this app does not have."""
    other = Keyring.from_specs(new_key_spec("gone"), DEV_INDEX_KEY)
    stray = other.encrypt("+14155550100", "consultation_request.phone")
    with raw_connection(database_url(app)) as conn:
        conn.execute(text("UPDATE consultation_request SET phone = :phone WHERE id = 1"), {"phone": stray})


def test_new_prints_a_usable_key(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "new", "k2"])
    assert result.exit_code == 0
    ((key_id, key),) = parse_keys(result.stdout.strip())
    assert key_id == "k2" and len(key) == 32
    assert "first in DATA_ENCRYPTION_KEYS" in result.stderr


def test_new_refuses_a_bad_key_id(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "new", "no spaces"])
    assert result.exit_code == 2
    assert "KEY_ID" in result.output


def test_new_index_key_is_usable(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "new-index-key"])
    assert result.exit_code == 0
    Keyring.from_specs(DEV_DATA_KEYS, result.stdout.strip())


def test_status_counts_values_under_each_key(app: Flask) -> None:
    seed_request(app)  # first name, last name, date of birth, phone (no email, no message)
    seed_request(app, email="pat@example.org", message="Hello")
    result = app.test_cli_runner().invoke(args=["keys", "status"])
    assert result.exit_code == 0, result.output
    assert "Newest key: dev1" in result.output
    assert "dev1: 10 value(s) (newest)" in result.output


def test_status_and_rotate_report_values_they_cannot_read(app: Flask) -> None:
    seed_request(app)
    seed_request(app)
    store_under_unknown_key(app)
    runner = app.test_cli_runner()
    status = runner.invoke(args=["keys", "status"])
    assert status.exit_code == 1
    assert "gone: 1 value(s) (NOT CONFIGURED" in status.output

    rotated = runner.invoke(args=["keys", "rotate"])
    assert rotated.exit_code == 1
    assert "Cannot decrypt consultation_request 1" in rotated.stderr
    assert audit_details(app)[-1]["unreadable"] == 1


def test_rotate_with_nothing_to_do(app: Flask) -> None:
    seed_request(app)
    before = encrypted_values(app)
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0
    assert "Re-encrypted 0 value(s) in 0 row(s) under key dev1 (nothing to do)." in result.output
    assert encrypted_values(app) == before
    assert audit_details(app) == [{"operation": "rotate", "key": "dev1", "rows": 0, "values": 0, "tables": {},
                                   "unreadable": 0, "busy": 0}]


def test_reindex_after_changing_the_blind_index_key(app: Flask, restart: Callable[..., Flask]) -> None:
    reference = seed_request(app, last_name="Quixotezza", phone="+14155550177", email="pat@example.org")
    seed_request(app, phone="+14155550178")
    new_index_key = new_key_spec("i").split(":")[1]
    moved = restart(app, BLIND_INDEX_KEY=new_index_key)
    assert found_by(moved, "415 555 0177") == []  # every stored index is stale under the new key

    result = moved.test_cli_runner().invoke(args=["keys", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Recomputed the blind indexes of 2 request(s), and the name search keys of 2." in result.output
    assert found_by(moved, "415 555 0177") == found_by(moved, "quixotezza") == [reference]
    assert audit_details(moved)[-1] == {"operation": "reindex", "rows": 2, "unreadable": 0, "busy": 0}
    again = moved.test_cli_runner().invoke(args=["keys", "reindex"])
    assert "of 0 request(s), and the name search keys of 0." in again.output
