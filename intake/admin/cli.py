"""`flask audit verify` (DESIGN §7): the chain, checked against its anchor outside the database."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from intake.extensions import db

audit_cli = AppGroup("audit", help="The hash-chained audit log.")

_EXPLAIN = {
    "intact": "The audit chain is intact.",
    "broken": "The audit chain is broken: an event was edited or removed (first bad event named).",
    "reordered": "The audit chain is reordered: events are not in the order they were written.",
    "truncated": "The audit chain is truncated: events seen by the last anchor are gone.",
    "key_differs": (
        "The audit log was written under another key: AUDIT_KEY (or SECRET_KEY, from which "
        "it is derived when AUDIT_KEY is unset) is not the one this instance was set up with. "
        "Set it back to the old value."
    ),
    "anchor_invalid": "The audit anchor file was changed or is unreadable.",
}


@audit_cli.command("verify")
@click.option(
    "--checksum",
    "expected",
    default=None,
    help="A checksum from a daily digest (COUNT:xxxx-xxxx-xxxx) that must still match.",
)
def verify_command(expected: str | None) -> None:
    """Verify the chain; exit 1 when it is broken, reordered, truncated or under another key."""
    from intake.services import audit_anchor

    check = audit_anchor.verify()
    result = audit_anchor.describe(check)
    result["message"] = _EXPLAIN[check.status.value]
    ok = check.ok
    if expected is not None:
        matched = audit_anchor.matches_checksum(expected)
        result["checksum_matches"] = matched
        if not matched:
            ok = False
            result["message"] += (
                " The digest checksum given does not match: compare it with the e-mail character"
                " by character (a mistyped one cannot match); if it is the same, events up to"
                " that point were changed or lost."
                if audit_anchor.is_checksum(expected)
                else " That is not a digest's checksum (COUNT:xxxx-xxxx-xxxx, COUNT from 1)."
            )
    db.session.rollback()
    click.echo(json.dumps(result))
    if not ok:
        raise SystemExit(1)


@audit_cli.command("accept-restore")
def accept_restore_command() -> None:
    """After restoring a backup on purpose: record in the chain that the events written after
    the backup are gone, and anchor the restored chain (exit 1, nothing written, unless the
    chain is intact and only shorter than the anchor saw)."""
    from intake.services import audit_anchor

    before = audit_anchor.read_anchor()
    accepted, check = audit_anchor.accept_restore()
    result = audit_anchor.describe(check)
    if accepted and check.ok and before is not None:
        result["message"] = (
            f"Restore accepted: the anchor had seen {before.count} events "
            f"(at {before.anchored_at}); the restored chain holds {check.count}, this event "
            "included. The chain is anchored again."
        )
    else:
        result["message"] = (
            _EXPLAIN[check.status.value]
            + " Nothing was changed: accept-restore only accepts an intact chain that is "
            "shorter than the anchor saw (a restore from a backup)."
        )
    db.session.rollback()
    click.echo(json.dumps(result))
    if not (accepted and check.ok):
        raise SystemExit(1)
