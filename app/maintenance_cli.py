"""``flask purge`` and ``flask backup`` (filled in by issue 4 work)."""

from __future__ import annotations

import click


@click.command("purge")
def purge_command() -> None:
    """Remove data past its retention period."""
    raise click.ClickException("not implemented yet")


@click.command("backup")
@click.argument("path")
def backup_command(path: str) -> None:
    """Write a consistent copy of the database to PATH."""
    raise click.ClickException("not implemented yet")
