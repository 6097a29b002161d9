"""`flask users …` and `flask keys …` (filled in by the staff accounts issue)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

users_cli = AppGroup("users", help="Manage staff accounts.")
keys_cli = AppGroup("keys", help="Manage the organisation keypair.")


@users_cli.command("list")
def list_users() -> None:
    """List staff accounts."""
    click.echo("[]")
