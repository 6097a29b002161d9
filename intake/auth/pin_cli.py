"""`flask keys pin`: pin an organisation key that predates pinning (see services.key_pins)."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa

from intake.extensions import db
from intake.models import OrgKey


@click.command("pin")
@click.option(
    "--fingerprint",
    "fingerprint",
    default=None,
    help="The fingerprint you checked against the one the organisation published elsewhere.",
)
def pin_command(fingerprint: str | None) -> None:
    """Pin the organisation keys in use after checking their fingerprint out of band.

    Without --fingerprint, lists the keys in use and whether each is pinned. Never pins
    anything by itself: a key swapped in the database would be pinned too.
    """
    from intake.services import key_pins

    keys_in_use = db.session.scalars(
        sa.select(OrgKey).where(OrgKey.retired_at.is_(None)).order_by(OrgKey.id)
    ).all()
    if fingerprint is None:
        listing = [
            {"org_key_id": k.id, "fingerprint": k.fingerprint, "pinned": key_pins.is_verified(k)}
            for k in keys_in_use
        ]
        click.echo(json.dumps(listing))
        return
    wanted = "".join(fingerprint.split()).lower()
    for org_key in keys_in_use:
        if "".join(org_key.fingerprint.split()).lower() == wanted:
            try:
                key_pins.pin_existing(org_key, fingerprint)
            except key_pins.PinError as error:
                raise click.ClickException(str(error)) from error
            click.echo(json.dumps({"org_key_id": org_key.id, "pinned": True}))
            return
    db.session.rollback()
    raise click.ClickException("no organisation key in use has this fingerprint")
