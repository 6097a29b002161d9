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
@click.option(
    "--beside-real-cases",
    is_flag=True,
    help="Add sample cases to an instance that already holds real requests.",
)
@click.option("--remove", is_flag=True, help="Delete every sample case this command made.")
def demo_command(count: int, seed: int, beside_real_cases: bool, remove: bool) -> None:
    """Create realistic sample cases sealed to the organisation key, with referrals whose
    deadlines lie around today; `--remove` deletes them again, before real use.

    Sample cases are assigned to the staff, their reminders are e-mailed and the reports
    count them, as real ones: try Refuge on an instance of its own, or remove them."""
    from intake import demo

    if remove:
        removed = demo.remove()
        result: dict[str, object] = {"removed": removed}
        if not removed and demo.real_cases():
            # Samples made before migration 0037 were not recorded: nothing tells them apart.
            result["note"] = (
                "No sample case is recorded here. Sample cases made before migration 0037 "
                "(flask demo before December 2026) were not recorded and count as real "
                "requests: close them by hand, or start again on a new instance."
            )
        click.echo(json.dumps(result))
        return
    real = demo.real_cases()
    if real and not beside_real_cases:
        raise click.ClickException(
            f"This instance holds {real} real request(s): sample cases would sit among them, "
            "be assigned to your colleagues, e-mail them reminders and count in the reports. "
            "Try Refuge on an instance of its own (INTAKE_INSTANCE_PATH or DATABASE_URL), "
            "or pass --beside-real-cases."
        )
    try:
        summary = demo.create(count, seed=seed)
    except demo.DemoError as error:
        raise click.ClickException(str(error)) from error
    # Said where the figures are: these go before the instance is used for real.
    click.echo(json.dumps({**summary, "remove_before_real_use": "flask demo --remove"}))
