"""`flask directory …` and `flask triage` (filled in by the directory issue)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

directory_cli = AppGroup("directory", help="Import and export the emergency-resource directory.")


@click.command("triage")
def triage_command() -> None:
    """Rank directory entries for routing JSON read on stdin."""
    raise click.ClickException("triage comes with the directory issue")
