"""The organisation public key, pinned with an HMAC under a key outside the database.

Someone who can write to the database could otherwise swap ``org_keys.public_key`` and
``fingerprint`` for a key of their own: the form would seal new requests to it and the landing
page would show its fingerprint. The pin is an HMAC over the key id, public key and fingerprint
under a key derived from ``AUDIT_KEY`` (else ``SECRET_KEY``), kept in ``org_settings`` (no
schema change). It is written when a key is created or rotated (:mod:`intake.services.keys`)
and checked whenever the key is served to the form or the landing page or used by the server to
seal. A missing or wrong pin means: do not seal.

Keys created before pinning existed are *not* pinned automatically at start-up: that would pin
a key already swapped. An operator compares the fingerprint with the one published out of band
and runs ``flask keys pin --fingerprint FP``; until then the form refuses to seal.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging

import sqlalchemy as sa
from flask import current_app

from intake.extensions import db
from intake.models import OrgKey, OrgSetting, User
from intake.services import audit

log = logging.getLogger(__name__)
_PREFIX = "org_key_pin:"
_logged_mismatch: set[int] = set()
# Either cause is possible: name both, the setting first (it is the usual one).
PIN_MISMATCH = (
    "organisation key %s does not match its pin: refusing to seal. Either AUDIT_KEY (or "
    "SECRET_KEY, from which it is derived when AUDIT_KEY is unset) is not the one the key was "
    "pinned under: set it back to the old value; or the key in the database was replaced: "
    "compare its fingerprint with the one you published"
)


class PinError(ValueError):
    """A pin that cannot be written; the message is a stable code."""


def _pin_key() -> bytes:
    configured = current_app.config.get("AUDIT_KEY") or current_app.config["SECRET_KEY"]
    return hashlib.sha256(b"refuge-org-key-pin:" + str(configured).encode()).digest()


def _expected(org_key: OrgKey) -> str:
    return _hmac(_pin_key(), org_key.id, org_key.public_key, org_key.fingerprint)


def _hmac(pin_key: bytes, key_id: int, public_key: str, fingerprint: str) -> str:
    body = f"{key_id}\n{public_key}\n{fingerprint}".encode()
    return hmac.new(pin_key, body, hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=64)
def _verdict(pin_key: bytes, key_id: int, public_key: str, fingerprint: str, pin: str) -> bool:
    return hmac.compare_digest(pin, _hmac(pin_key, key_id, public_key, fingerprint))


def pin_name(key_id: sa.ColumnExpressionArgument[int]) -> sa.ColumnElement[str]:
    """The ``org_settings`` key of a key's pin, in SQL: to read the pin with the key."""
    return sa.literal(_PREFIX) + sa.cast(key_id, sa.String)


def pin(org_key: OrgKey) -> None:
    """Write the pin (the caller commits, with the key it pins)."""
    db.session.flush()  # the key needs its id
    name = f"{_PREFIX}{org_key.id}"
    row = db.session.get(OrgSetting, name)
    if row is None:
        db.session.add(OrgSetting(key=name, value=_expected(org_key)))
    else:
        row.value = _expected(org_key)
    _logged_mismatch.discard(org_key.id)


def pin_verifies(org_key: OrgKey) -> bool | None:
    """Whether this key's stored pin verifies, or None when it has none (a key that predates
    pinning): for the start-up check (intake.start_checks), which logs for itself."""
    row = db.session.get(OrgSetting, f"{_PREFIX}{org_key.id}")
    if row is None:
        return None
    return _verdict(_pin_key(), org_key.id, org_key.public_key, org_key.fingerprint, row.value)


def is_verified(org_key: OrgKey) -> bool:
    """Whether this key is the one pinned (its pin read now)."""
    row = db.session.get(OrgSetting, f"{_PREFIX}{org_key.id}")
    return matches(org_key, row.value if row is not None else None)


def matches(org_key: OrgKey, pin: str | None) -> bool:
    """Whether ``pin`` (the stored pin, read with the key) pins this key; a mismatch is logged
    once per process, by id only.

    The verdict is cached per process, keyed by exactly the values read (the key's id, public
    key and fingerprint, and the pin): a key or pin changed in the database is another entry,
    so a tampered key is refused on the first request that reads it, never served from here."""
    if pin is not None and _verdict(
        _pin_key(), org_key.id, org_key.public_key, org_key.fingerprint, pin
    ):
        return True
    if org_key.id not in _logged_mismatch:
        _logged_mismatch.add(org_key.id)
        log.error(PIN_MISMATCH, org_key.id)
    return False


def pin_existing(org_key: OrgKey, confirmed_fingerprint: str, actor: User | None = None) -> None:
    """An operator pins a key that predates pinning, after checking its fingerprint out of
    band: the fingerprint they typed must be the key's (computed again, not read)."""
    from intake import crypto

    wanted = "".join(confirmed_fingerprint.split()).lower()
    actual = crypto.fingerprint(org_key.public_key)
    if "".join(actual.split()).lower() != wanted or org_key.fingerprint != actual:
        raise PinError("fingerprint_mismatch")
    pin(org_key)
    audit.record(
        "keys.org_key_pinned",
        "org_key",
        org_key.id,
        actor=actor,
        actor_label=None if actor else "system:cli",
    )
    db.session.commit()
