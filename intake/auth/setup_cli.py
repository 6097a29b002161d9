"""`flask setup-token`: the one-time link to /setup, printed on the operator's console."""

from __future__ import annotations

import os

import click


@click.command("setup-token")
def setup_token_command() -> None:
    """Print a new one-time link to /setup (the previous one stops working).

    Prints the address the app is served at (PUBLIC_BASE_URL, else 127.0.0.1 and $PORT).
    Once an account exists there is no setup: says so and exits 0.
    """
    from intake.services import setup_token

    try:
        token = setup_token.issue()
    except setup_token.SetupDone:
        click.echo("Refuge is set up (an account exists): /setup is closed.")
        return
    base = f"http://127.0.0.1:{os.environ.get('PORT') or 5000}"
    click.echo(f"First run: open {base}/setup?token={token} to create the first admin.")
