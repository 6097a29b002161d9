"""The audit chain: HMAC-linked, so an insider with the database alone cannot rewrite it."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import AuditEvent
from intake.services import audit


def _record_three() -> None:
    for number in range(3):
        audit.record("case.view", "case", number, detail={"n": number})
    db.session.commit()


def test_an_intact_chain_verifies_and_names_its_head(app: Flask) -> None:
    _record_three()
    check = audit.verify_chain()
    assert (check.ok, check.checked) == (True, 3)
    newest = db.session.scalar(sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()))
    assert check.head == newest


def test_an_edit_with_recomputed_plain_hashes_is_still_detected(app: Flask) -> None:
    """What an insider could do against a plain SHA-256 chain: edit a row and recompute every
    hash after it. Without the HMAC key the recomputed hashes do not verify."""
    _record_three()
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    events[1].detail = {"n": 99}
    previous = events[0].hash
    for event in events[1:]:
        event.prev_hash = previous
        body = audit.event_body(event)
        event.hash = hashlib.sha256(body.encode()).hexdigest()
        previous = event.hash
    db.session.commit()
    check = audit.verify_chain()
    assert check.ok is False
    assert check.first_bad_id == events[1].id


def test_the_chain_key_can_be_set_apart_from_the_secret_key(app: Flask) -> None:
    _record_three()
    app.config["AUDIT_KEY"] = "a-different-key"
    assert audit.verify_chain().ok is False  # events written under the old key
