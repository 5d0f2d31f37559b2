"""``flask staff``: create, disable and list accounts, and set passwords, from the command line."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.casework.audit import record
from app.extensions import db
from app.models import ROLES, StaffUser, utcnow
from app.security.accounts import (
    AccountError,
    clear_failures,
    create_staff,
    find_by_email,
    is_locked,
    set_active,
    set_password,
)
from app.security.staff_sessions import end_sessions

staff_cli = AppGroup("staff", help="Staff accounts.")


def _read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin for scripts, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _account(email: str) -> StaffUser:
    user = find_by_email(db.session, email)
    if user is None:
        raise click.ClickException(f"No account for {email}")
    return user


@staff_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Display name.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the account may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(email: str, name: str, role: str, password_stdin: bool) -> None:
    """Create an active staff account."""
    password = _read_password(password_stdin)
    try:
        user = create_staff(db.session, email, name, role, password, utcnow())
        db.session.flush()
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    record(db.session, "account_create", now=utcnow(), staff_id=None, ip=None, target_type="staff_user",
           target_id=user.id, detail={"via": "cli", "role": role})
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role}).")


@staff_cli.command("disable")
@click.argument("email")
def disable_command(email: str) -> None:
    """Disable an account: it can no longer sign in, and its sessions end."""
    user = _account(email)
    now = utcnow()
    set_active(user, False, now)
    ended = end_sessions(db.session, user.id, "disabled", now)
    record(db.session, "account_disable", now=now, staff_id=None, ip=None, target_type="staff_user",
           target_id=user.id, detail={"via": "cli", "sessions_ended": ended})
    db.session.commit()
    click.echo(f"Disabled {user.email}.")


@staff_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password_command(email: str, password_stdin: bool) -> None:
    """Set a new password for an account; its sessions end, so whoever had the old one is signed out."""
    user = _account(email)
    now = utcnow()
    try:
        set_password(user, _read_password(password_stdin), now)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    ended = end_sessions(db.session, user.id, "password", now)
    record(db.session, "account_password", now=now, staff_id=None, ip=None, target_type="staff_user",
           target_id=user.id, detail={"via": "cli", "sessions_ended": ended})
    db.session.commit()
    click.echo(f"Password changed for {user.email}.")


@staff_cli.command("unlock")
@click.argument("email")
def unlock_command(email: str) -> None:
    """End the lock that failed sign-ins put on an account (``set-password`` ends it too)."""
    user = _account(email)
    now = utcnow()
    was_locked = is_locked(user, now)
    clear_failures(user)
    if was_locked:
        record(db.session, "account_unlock", now=now, staff_id=None, ip=None, target_type="staff_user",
               target_id=user.id, detail={"via": "cli"})
    db.session.commit()
    click.echo(f"{user.email} can sign in again." if was_locked else f"{user.email} was not locked.")


@staff_cli.command("list")
def list_command() -> None:
    """List every account: email, role, name and whether it is active."""
    users = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    if not users:
        click.echo("No staff accounts yet. Create the first admin with: flask --app wsgi staff create ...")
    now = utcnow()
    for user in users:
        state = ("active" if user.active else "disabled") + (" locked" if is_locked(user, now) else "")
        click.echo(f"{user.email}\t{user.role}\t{state}\t{user.name}")
