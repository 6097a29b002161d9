"""`flask users …` and `flask keys …` (DESIGN §7)."""

from __future__ import annotations

import json
import sys

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from intake.extensions import db
from intake.links import external_link
from intake.models import Role, User
from intake.services import accounts, keys

users_cli = AppGroup("users", help="Manage staff accounts.")
keys_cli = AppGroup("keys", help="Manage the organisation keypair.")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        # One line from stdin (the trailing newline is not part of the password).
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _fail(message: str) -> None:
    click.echo(json.dumps({"error": message}), err=True)
    raise SystemExit(1)


@users_cli.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default="caseworker",
    show_default=True,
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(email: str, role: str, password_stdin: bool) -> None:
    """Create a staff account with its second factor and staff keypair.

    Prints JSON with the otpauth:// URI to enrol in an authenticator app.

    For automation only: this command SEES THE PASSWORD (the web never does). It derives the
    same two secrets a browser would (Argon2id, then a KDF split) with PyNaCl, stores only
    the hash of the authentication secret and wraps the new keypair with the other one.
    Prefer an invitation (/admin/users) so the password is typed only in the person's browser.
    The TOTP URI counts at once (no confirmation step, unlike the web): hand it over as
    safely as the password.
    """
    password = _read_password(password_stdin)
    try:
        user = accounts.create_user(
            email, Role(role), password=password, server_keys=True, totp_confirmed=True
        )
    except accounts.AccountError as exc:
        _fail(str(exc))
        return
    click.echo(
        json.dumps(
            {
                "id": user.id,
                "email": user.email,
                "role": user.role.value,
                "otpauth_uri": accounts.otpauth_uri(user),
                "public_key": user.public_key,
            }
        )
    )


@users_cli.command("list")
def list_users() -> None:
    """List staff accounts as JSON."""
    users = db.session.scalars(sa.select(User).order_by(User.id))
    click.echo(
        json.dumps(
            [
                {"id": u.id, "email": u.email, "role": u.role.value, "active": u.is_active_account}
                for u in users
            ]
        )
    )


@keys_cli.command("init")
@click.option("--admin", "admin_email", required=True, help="E-mail of an existing admin.")
@click.option("--password-stdin", is_flag=True, help="Read the admin's password from stdin.")
def init_keys(admin_email: str, password_stdin: bool) -> None:
    """Create the organisation keypair and grant it to ADMIN (wrapped with their password).

    For automation only: this command SEES THE PASSWORD and, for a moment, the organisation
    secret key (the web's /setup does both in the browser). It derives the same secrets a
    browser would, with PyNaCl.
    """
    password = _read_password(password_stdin)
    try:
        result = keys.init_from_cli(admin_email, password)
    except keys.KeyOperationError as exc:
        _fail(str(exc))
        return
    click.echo(
        json.dumps(
            {
                "org_key_id": result.org_key.id,
                "public_key": result.org_key.public_key,
                "fingerprint": result.org_key.fingerprint,
                "granted_to": admin_email.strip().lower(),
            }
        )
    )


def _enrol_link(token: str) -> str:
    """Where the instance really serves: the operator's shell has no ``PORT`` of its own."""
    return external_link(f"/auth/enrol/{token}")


@users_cli.command("reset-password")
@click.argument("email")
def reset_password(email: str) -> None:
    """Give a locked-out person their ACCESS back: prints a one-time link to set a new
    password and second factor.

    Not their KEY: their old key is forgotten with the password. Reading cases again needs a
    colleague admin's new grant, or the organisation's recovery kit at /recover.
    """
    try:
        token = accounts.operator_reset_password(email)
    except accounts.AccountError as exc:
        _fail(str(exc))
        return
    click.echo(
        json.dumps(
            {
                "email": email.strip().lower(),
                "link": _enrol_link(token),
                "next": "Open the link, set a new password and second factor; then get the key "
                "back from a colleague admin's grant or the recovery kit at /recover.",
            }
        )
    )


@users_cli.command("reset-totp")
@click.argument("email")
def reset_totp(email: str) -> None:
    """Forget a person's second factor: prints a one-time link where they confirm their
    password (in their browser) and enrol a new one. Their password and key stay."""
    try:
        token = accounts.operator_reset_totp(email)
    except accounts.AccountError as exc:
        _fail(str(exc))
        return
    click.echo(json.dumps({"email": email.strip().lower(), "link": _enrol_link(token)}))
