"""The audit log: every read and write of a case, sign-ins, key grants, admin actions.

Each event's hash is an HMAC (key outside the database) over its fields and the previous
event's hash, so editing or deleting a row breaks the chain from there on
(:func:`verify_chain`), and recomputing the hashes needs the key. ``record`` adds the event
to the current session: it commits with the change it describes, or not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, User
from intake.services import locks

GENESIS = "0" * 64


def _chain_key() -> bytes:
    """The HMAC key of the chain, kept outside the database (AUDIT_KEY, else derived from
    SECRET_KEY): someone who can edit the table cannot recompute valid hashes after an edit."""
    configured = current_app.config.get("AUDIT_KEY") or current_app.config["SECRET_KEY"]
    return hashlib.sha256(b"refuge-audit-chain:" + str(configured).encode()).digest()


def event_body(event: AuditEvent) -> str:
    """The canonical text of an event that its hash covers."""
    return json.dumps(
        {
            "at": event.at.isoformat(),
            "actor_id": event.actor_id,
            "actor_label": event.actor_label,
            "action": event.action,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "detail": event.detail,
            "prev_hash": event.prev_hash,
        },
        sort_keys=True,
        ensure_ascii=True,
    )


def event_hash(event: AuditEvent) -> str:
    """The HMAC an event must carry, under this installation's chain key."""
    return hmac.new(_chain_key(), event_body(event).encode(), hashlib.sha256).hexdigest()


_event_hash = event_hash


def record(
    action: str,
    target_type: str,
    target_id: str | int,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event (never case content: ids, states and counts only)."""
    locks.serialise(locks.AUDIT_CHAIN)
    previous = db.session.scalar(sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    label = actor_label or (f"user:{actor.email}" if actor is not None else "system")
    event = AuditEvent(
        at=utcnow().replace(microsecond=0),
        actor_id=actor.id if actor is not None else None,
        actor_label=label,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        detail=detail or {},
        prev_hash=previous or GENESIS,
    )
    event.hash = _event_hash(event)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    # The newest hash: write it down elsewhere now and then, and a later check can tell that
    # events were cut off the end (which no chain can show by itself).
    head: str | None = None


def verify_chain() -> ChainCheck:
    """Walk the log in order; report the first event whose hash or link does not match."""
    expected_prev = GENESIS
    checked = 0
    for event in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).yield_per(500):
        if event.prev_hash != expected_prev or _event_hash(event) != event.hash:
            return ChainCheck(ok=False, checked=checked, first_bad_id=event.id)
        expected_prev = event.hash
        checked += 1
    return ChainCheck(ok=True, checked=checked, head=expected_prev if checked else None)
