"""Flask CLI commands of the contract (DESIGN §7), gathered from each area."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    from intake.admin.cli import audit_cli
    from intake.auth.cli import keys_cli, users_cli
    from intake.auth.pin_cli import pin_command
    from intake.auth.setup_cli import setup_token_command
    from intake.directory.cli import directory_cli, triage_command
    from intake.referrals.cli import deadlines_cli, demo_command

    keys_cli.add_command(pin_command)
    for command in (
        users_cli,
        keys_cli,
        directory_cli,
        triage_command,
        deadlines_cli,
        demo_command,
        audit_cli,
        setup_token_command,
    ):
        app.cli.add_command(command)
