"""`flask staff ...`: create, disable, set-password and list accounts."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, StaffUser, utcnow
from app.security.accounts import authenticate, create_staff
from tests.conftest import database_url

PASSWORD = "a long enough passphrase"


def test_create_with_password_on_stdin(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "Admin@Clinic.example", "--name", "Ada Admin", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(select(StaffUser)).one()
        assert (user.email, user.name, user.role, user.active) == ("admin@clinic.example", "Ada Admin", "admin", True)
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert authenticate(db.session, "admin@clinic.example", PASSWORD, utcnow()) is not None
        assert db.session.scalars(select(AuditEvent.action)).all() == ["account_create"]


def test_create_prompts_twice_and_refuses_a_mismatch(app: Flask) -> None:
    runner = app.test_cli_runner()
    mismatch = runner.invoke(args=["staff", "create", "a@clinic.example", "--name", "A", "--role", "frontdesk"],
                             input=f"{PASSWORD}\nsomething else entirely\n{PASSWORD}\n{PASSWORD}\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output.lower() or "don't match" in mismatch.output.lower()


def test_create_refuses_short_password_unknown_role_and_duplicates(app: Flask) -> None:
    runner = app.test_cli_runner()
    short = runner.invoke(args=["staff", "create", "a@clinic.example", "--name", "A", "--role", "frontdesk",
                                "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    role = runner.invoke(args=["staff", "create", "a@clinic.example", "--name", "A", "--role", "boss",
                               "--password-stdin"], input=PASSWORD + "\n")
    assert role.exit_code != 0
    args = ["staff", "create", "a@clinic.example", "--name", "A", "--role", "frontdesk", "--password-stdin"]
    assert runner.invoke(args=args, input=PASSWORD + "\n").exit_code == 0
    again = runner.invoke(args=args, input=PASSWORD + "\n")
    assert again.exit_code != 0 and "already exists" in again.output


def test_long_passphrase_is_allowed(app: Flask) -> None:
    phrase = "correct horse battery staple " * 3
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "b@clinic.example", "--name", "B", "--role", "clinician", "--password-stdin"],
        input=phrase + "\n")
    assert result.exit_code == 0
    with app.app_context():
        assert authenticate(db.session, "b@clinic.example", phrase, utcnow()) is not None


def test_disable_set_password_and_list(app: Flask) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["staff", "create", "c@clinic.example", "--name", "Cy", "--role", "frontdesk",
                        "--password-stdin"], input=PASSWORD + "\n")
    new_password = "another long passphrase"
    assert runner.invoke(args=["staff", "set-password", "C@clinic.example", "--password-stdin"],
                         input=new_password + "\n").exit_code == 0
    with app.app_context():
        assert authenticate(db.session, "c@clinic.example", PASSWORD, utcnow()) is None
        assert authenticate(db.session, "c@clinic.example", new_password, utcnow()) is not None
    listing = runner.invoke(args=["staff", "list"])
    assert "c@clinic.example\tfrontdesk\tactive\tCy" in listing.output
    assert runner.invoke(args=["staff", "disable", "c@clinic.example"]).exit_code == 0
    assert "c@clinic.example\tfrontdesk\tdisabled\tCy" in runner.invoke(args=["staff", "list"]).output
    with app.app_context():
        assert authenticate(db.session, "c@clinic.example", new_password, utcnow()) is None
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["account_create", "account_password", "account_disable"]
    missing = runner.invoke(args=["staff", "disable", "nobody@clinic.example"])
    assert missing.exit_code != 0 and "No account" in missing.output


def test_there_is_no_default_account(app: Flask) -> None:
    with app.app_context():
        assert db.session.scalars(select(StaffUser)).all() == []
    assert "No staff accounts yet" in app.test_cli_runner().invoke(args=["staff", "list"]).output


def test_production_hashing_parameters_are_stored_and_a_cheaper_hash_is_raised_at_sign_in(
    app: Flask, app_factory: Callable[..., Flask],
) -> None:
    """The suite hashes with argon2's CHEAPEST profile to stay quick; this test keeps the production one."""
    with app.app_context():  # TestingConfig: CHEAPEST
        create_staff(db.session, "p@clinic.example", "P", "frontdesk", PASSWORD, utcnow())
        db.session.commit()
        assert db.session.scalars(select(StaffUser.password_hash)).one().startswith("$argon2id$v=19$m=8,t=1,p=1$")
    production = app_factory(database_url(app), PASSWORD_HASH_PROFILE="RFC_9106_LOW_MEMORY")  # the same database
    with production.app_context():
        assert authenticate(db.session, "p@clinic.example", PASSWORD, utcnow()) is not None
        db.session.commit()
        raised = db.session.scalars(select(StaffUser.password_hash)).one()
        assert raised.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # RFC 9106 low-memory, argon2-cffi's default
        assert authenticate(db.session, "p@clinic.example", PASSWORD, utcnow()) is not None
        assert authenticate(db.session, "p@clinic.example", "not the password at all", utcnow()) is None
