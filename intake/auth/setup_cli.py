"""`flask setup-token`: the one-time link to /setup, printed on the operator's console."""

from __future__ import annotations

import click

from intake.links import external_link


@click.command("setup-token")
def setup_token_command() -> None:
    """Print a new one-time link to /setup (the previous one stops working).

    The link is on PUBLIC_BASE_URL, else on the address this instance serves (BIND_HOST, PORT).
    Once an account exists there is no setup: says so and exits 0.
    """
    from intake.services import setup_token

    try:
        token = setup_token.issue()
    except setup_token.SetupDone:
        click.echo("Refuge is set up (an account exists): /setup is closed.")
        return
    link = external_link(f"/setup?token={token}")
    click.echo(f"First run: open {link} to create the first admin.")
