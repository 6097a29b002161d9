"""`flask deadlines scan` and `flask demo --cases N` (DESIGN §7)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

deadlines_cli = AppGroup("deadlines", help="Referral deadlines and reminders.")


@deadlines_cli.command("scan")
def scan_command() -> None:
    """Scan once: write due reminders to the outbox, queue them, print a JSON summary."""
    from intake.services import audit_anchor, reminders

    try:
        summary = reminders.scan()
    except reminders.BrokerUnavailable as error:
        # One line, no traceback: the operator needs to know the broker is down, nothing more.
        raise click.ClickException(
            f"the broker is unreachable ({error.reason}): {error.left} reminder(s) left "
            f"unqueued for the next scan, {error.queued} queued"
        ) from None
    audit_anchor.advance()
    click.echo(json.dumps(summary.as_dict()))


@click.command("demo")
@click.option("--cases", "count", default=20, show_default=True, type=click.IntRange(1, 2_000_000))
@click.option("--seed", default=2026, show_default=True, help="Random seed (same seed, same data).")
def demo_command(count: int, seed: int) -> None:
    """Create realistic sample cases sealed to the organisation key, with referrals whose
    deadlines lie around today."""
    from intake import demo

    try:
        summary = demo.create(count, seed=seed)
    except demo.DemoError as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(summary))
