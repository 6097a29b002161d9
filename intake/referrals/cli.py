"""`flask deadlines scan` and `flask demo` (filled in by the referrals issue)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

deadlines_cli = AppGroup("deadlines", help="Referral deadlines and reminders.")


@click.command("demo")
@click.option("--cases", default=20, show_default=True, help="How many sample cases.")
def demo_command(cases: int) -> None:
    """Create realistic sample cases sealed to the organisation key."""
    raise click.ClickException("demo data comes with the referrals issue")
