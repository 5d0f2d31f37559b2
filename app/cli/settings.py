"""``flask check-config`` and ``flask secret-key``: set up and check a server's settings before starting it.

Both work even when the settings are unsafe, which is exactly when an operator needs them: ``wsgi.py`` then
builds ``settings_app``, which has only these commands and ``flask keys new`` / ``new-index-key``, and answers
every other command (and every web request) with the list of what to fix.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.platform.settings_check import ConfigurationError, check_settings

# The checks that must pass before the app may serve; the others (backup age, outbox, rate-limit store) are
# shown but do not fail the command, as a new server has no backup yet.
BLOCKING_CHECKS = {"database", "migrations", "encryption keys"}


@click.command("secret-key")
def secret_key_command() -> None:
    """Print a new random SECRET_KEY (64 characters, 48 random bytes)."""
    click.echo(secrets.token_urlsafe(48))


@click.command("check-config")
def check_config_command() -> None:
    """Check the settings and the database (reachable, migrated, every key present); exit 1 on a problem."""
    error: ConfigurationError | None = current_app.extensions.get("settings_error")
    if error is not None:
        for finding in error.findings:
            click.echo(f"FAIL  {finding.setting}: {finding.message}")
        raise SystemExit(1)
    from app.web.health import collect_readiness

    config = current_app.config
    findings = check_settings(config, production=bool(config.get("REFUSE_UNSAFE_SETTINGS")))
    for finding in findings:
        click.echo(f"WARN  {finding.setting}: {finding.message}")
    click.echo(f"ok    settings ({'production' if config.get('REFUSE_UNSAFE_SETTINGS') else 'not production'}): "
               f"{len(findings)} warning(s)")
    result = collect_readiness(current_app._get_current_object())  # type: ignore[attr-defined]
    blocking = False
    for check in result.checks:
        label = "ok  " if check.ok else ("FAIL" if check.name in BLOCKING_CHECKS else "WARN")
        blocking = blocking or (not check.ok and check.name in BLOCKING_CHECKS)
        click.echo(f"{label}  {check.name}: {check.detail}")
    if blocking:
        raise SystemExit(1)


class _SettingsOnly(AppGroup):
    """The command group of ``settings_app``: the settings tools, and the list of problems for anything else."""

    def __init__(self, error: ConfigurationError) -> None:
        super().__init__()
        self.error = error

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            raise click.ClickException(f"{self.error}\nOnly `flask check-config`, `flask secret-key` and "
                                       "`flask keys new` work until then.")
        return command


def settings_app(error: ConfigurationError) -> Flask:
    """An app for the ``flask`` command while the settings are unsafe: the settings tools only, no data."""
    from app.cli.keys import new_command, new_index_key_command

    app = Flask(__name__)
    app.extensions["settings_error"] = error
    app.cli = _SettingsOnly(error)
    app.cli.add_command(check_config_command)
    app.cli.add_command(secret_key_command)
    keys = AppGroup("keys", help="Data encryption keys.")
    keys.add_command(new_command)
    keys.add_command(new_index_key_command)
    app.cli.add_command(keys)

    def refuse(_environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"This server's settings are unsafe; run `flask check-config`.\n"]

    app.wsgi_app = refuse  # type: ignore[method-assign]  # `flask run` must not serve with unsafe settings
    return app
