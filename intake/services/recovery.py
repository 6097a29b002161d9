"""The organisation's recovery kit (DESIGN §3).

A browser makes the recovery key, derives the kit's keypair from it and seals to the kit's
public key every organisation secret key it holds; the server keeps only that public key and
the sealed copies (RecoveryKit, RecoverySeal). The kit opens keys and nothing else: it signs
nobody in. An admin who is signed in but whose keyring cannot open the current organisation key
(after a password reset) opens the sealed copies with it in the browser (/recover) and grants
them to their own new public key; that retires the kit, and the same request brings the new kit
the browser made at once.

Only a confirmed kit counts (the admin typed part of it back): an unconfirmed one is never
offered to /recover and never quiets the warning about a lone key holder.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import KeyGrant, OrgKey, RecoveryKit, RecoverySeal, Role, User
from intake.services import audit, keys, locks, security_notices
from intake.services.accounts import KeyMaterial
from intake.services.errors import CodedError
from intake.services.transactions import transactional

# A few hundred rotations are far more than any organisation makes; the bound keeps a hostile
# request from making the server parse or write without end.
MAX_SEALS = 500


class RecoveryError(CodedError):
    """A recovery kit operation that cannot be done."""

    MESSAGES: dict[str, Any] = {
        **keys.KeyOperationError.MESSAGES,
        "invalid_kit": _l("The recovery kit your browser sent is not valid. Nothing was saved."),
        "kit_must_cover_current_key": _l(
            "A recovery kit must hold the current organisation key. Unlock your keys and try again."
        ),
        "no_such_kit": _l("This recovery kit does not exist or was replaced."),
        "kit_expired": _l(
            "This recovery kit was not confirmed within an hour, so it was set aside: the key"
            " shown with it opens nothing. Make a new kit."
        ),
        "not_your_kit": _l("Only the admin who made a recovery kit can confirm it."),
        "no_confirmed_kit": _l("This organisation has no confirmed recovery kit."),
        "already_hold_key": _l(
            "You already hold the organisation key: you do not need the recovery kit."
        ),
        "not_admin": _l("Only an admin can use the recovery kit."),
        "no_proof": _l(
            "Your browser did not show that it opened the recovery kit. Nothing was saved:"
            " reload the page and enter the recovery key again."
        ),
    }


def validate_kit_public_key(public_key: str) -> str:
    try:
        crypto.validate_public_key(public_key)
    except crypto.InvalidCiphertext as exc:
        raise RecoveryError("invalid_kit") from exc
    if db.session.scalar(sa.select(RecoveryKit.id).where(RecoveryKit.public_key == public_key)):
        raise RecoveryError("invalid_kit")  # a key never serves twice
    return public_key


def _validate_seals(seals: dict[int, str]) -> None:
    if not seals or len(seals) > MAX_SEALS:
        raise RecoveryError("invalid_kit")
    for sealed in seals.values():
        try:
            keys.validate_sealed_grant(sealed)
        except keys.KeyOperationError as exc:
            raise RecoveryError("invalid_kit") from exc
    found = set(db.session.scalars(sa.select(OrgKey.id).where(OrgKey.id.in_(list(seals)))))
    if found != set(seals):
        raise RecoveryError("no_such_key")


def unretired_kits() -> list[RecoveryKit]:
    """Every kit in force, or made within the hour and waiting for its confirmation (a
    rotation seals to each; keys.kit_in_force). One left unconfirmed longer was abandoned:
    it was listed as "waiting for its confirmation" for good, and sealed to (a review)."""
    return list(
        db.session.scalars(
            sa.select(RecoveryKit).where(keys.kit_in_force()).order_by(RecoveryKit.id)
        )
    )


def confirmed_kit() -> RecoveryKit | None:
    """The organisation's recovery kit: the newest confirmed one still in force."""
    return db.session.scalar(
        sa.select(RecoveryKit)
        .where(RecoveryKit.retired_at.is_(None), RecoveryKit.confirmed_at.is_not(None))
        .order_by(RecoveryKit.id.desc())
        .limit(1)
    )


def custody_at_risk() -> bool:
    """Fewer than two active people hold the current key and no confirmed kit exists: one lost
    password or phone away from every case being unreadable for good."""
    return custody_for(None).at_risk


@dataclass(frozen=True)
class Custody:
    """Who could still open the cases, read in one statement for the warnings every admin page
    shows (admin.routes.custody_warning): the queue is an admin's page too, and its statements
    are counted (tests/cases/test_queue_bounded.py)."""

    at_risk: bool  # custody_at_risk()
    # No confirmed kit in force, though two or more hold the key: a kit never made, or the one
    # used at /recover (which retires it) while the new one waits for its confirmation.
    kit_missing: bool
    kit_waiting: bool  # a kit made within the hour waits for its confirmation
    i_hold_the_key: bool


def custody_for(user: User | None) -> Custody:
    current = keys.current_org_key()
    if current is None:
        return Custody(False, False, False, False)
    grants = sa.and_(KeyGrant.org_key_id == current.id, KeyGrant.revoked_at.is_(None))
    holders = (
        sa.select(sa.func.count())
        .select_from(KeyGrant)
        .join(User, User.id == KeyGrant.user_id)
        .where(grants, User.is_active_account, User.public_key.is_not(None))
        .scalar_subquery()
    )
    confirmed = sa.exists().where(
        RecoveryKit.retired_at.is_(None), RecoveryKit.confirmed_at.is_not(None)
    )
    waiting = sa.exists().where(keys.kit_in_force(), RecoveryKit.confirmed_at.is_(None))
    mine = sa.exists().where(grants, KeyGrant.user_id == (user.id if user else None))
    row = db.session.execute(sa.select(holders, confirmed, waiting, mine)).one()
    count, has_kit, has_waiting, holds = int(row[0] or 0), bool(row[1]), bool(row[2]), bool(row[3])
    at_risk = count < 2 and not has_kit
    missing = not at_risk and not has_kit
    return Custody(at_risk, missing, missing and has_waiting, missing and holds)


def _add_kit(
    public_key: str, seals: dict[int, str], actor: User, *, confirmed: bool = False
) -> RecoveryKit:
    kit = RecoveryKit(public_key=public_key, created_by_id=actor.id)
    if confirmed:
        kit.confirmed_at = utcnow()
    db.session.add(kit)
    db.session.flush()
    for org_key_id, sealed in sorted(seals.items()):
        db.session.add(RecoverySeal(kit_id=kit.id, org_key_id=org_key_id, sealed_org_secret=sealed))
    # A kit waiting for confirmation that nobody confirmed is abandoned by the newer one.
    for pending in db.session.scalars(
        sa.select(RecoveryKit).where(
            RecoveryKit.retired_at.is_(None),
            RecoveryKit.confirmed_at.is_(None),
            RecoveryKit.id != kit.id,
        )
    ):
        pending.retired_at = utcnow()
    if confirmed:
        _retire_others(kit)
    db.session.flush()
    audit.record(
        "keys.recovery_kit_created",
        "recovery_kit",
        kit.id,
        actor=actor,
        detail={"org_key_ids": sorted(seals)},
    )
    return kit


def _retire_others(kit: RecoveryKit) -> None:
    for other in db.session.scalars(
        sa.select(RecoveryKit).where(RecoveryKit.retired_at.is_(None), RecoveryKit.id != kit.id)
    ):
        other.retired_at = utcnow()


def _held_key_ids(user: User) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(KeyGrant.org_key_id).where(
                KeyGrant.user_id == user.id, KeyGrant.revoked_at.is_(None)
            )
        )
    )


@transactional
def create_kit(actor: User, public_key: str, seals: dict[int, str]) -> RecoveryKit:
    """A new kit from an admin's browser, holding copies of the keys that admin holds (at
    least the current one). It counts once :func:`confirm_kit` says the admin kept it."""
    locks.serialise(locks.KEY_CUSTODY)
    current = keys.current_org_key()
    if current is None:
        raise RecoveryError("no_such_key")
    if actor.role is not Role.ADMIN or keys.active_grant(actor, current) is None:
        raise RecoveryError("actor_has_no_grant")
    validate_kit_public_key(public_key)
    _validate_seals(seals)
    if current.id not in seals:
        raise RecoveryError("kit_must_cover_current_key")
    if not set(seals) <= _held_key_ids(actor):
        raise RecoveryError("actor_has_no_grant")
    return _add_kit(public_key, seals, actor)


@transactional
def set_up_organisation(
    email: str,
    auth_secret: str,
    key_material: KeyMaterial,
    org_public_key: str,
    sealed_org_secret: str,
    kit_public_key: str,
    kit_sealed_org_secret: str,
) -> tuple[User, OrgKey]:
    """The first run (keys.set_up_organisation) with the kit the admin confirmed in the browser
    before the setup form was posted; without one (no JavaScript module for it) the admin pages
    ask for a kit. All of it, or nothing."""
    admin, org_key = keys.set_up_organisation(
        email, auth_secret, key_material, org_public_key, sealed_org_secret
    )
    if kit_public_key or kit_sealed_org_secret:
        validate_kit_public_key(kit_public_key)
        _validate_seals({org_key.id: kit_sealed_org_secret})
        kit = _add_kit(
            public_key=kit_public_key,
            seals={org_key.id: kit_sealed_org_secret},
            actor=admin,
            confirmed=True,
        )
        audit.record("keys.recovery_kit_confirmed", "recovery_kit", kit.id, actor=admin)
    return admin, org_key


@transactional
def confirm_kit(kit_id: int, actor: User) -> RecoveryKit:
    """The admin typed part of the new recovery key back: it is kept. Older kits retire."""
    locks.serialise(locks.KEY_CUSTODY)
    kit = db.session.get(RecoveryKit, kit_id)
    if kit is None or kit.retired_at is not None or kit.confirmed_at is not None:
        raise RecoveryError("no_such_kit", 404)
    if not db.session.scalar(sa.select(keys.kit_in_force()).where(RecoveryKit.id == kit.id)):
        # Left waiting past the hour: said as such, not as a kit that does not exist.
        raise RecoveryError("kit_expired", 410)
    if kit.created_by_id != actor.id:
        raise RecoveryError("not_your_kit", 403)
    kit.confirmed_at = utcnow()
    _retire_others(kit)
    audit.record("keys.recovery_kit_confirmed", "recovery_kit", kit.id, actor=actor)
    return kit


@dataclass(frozen=True)
class RecoveryState:
    """What /recover shows a signed-in admin."""

    holds_current_key: bool
    kit: RecoveryKit | None
    # Whether ``user`` held an organisation key once (a grant since revoked, as a password
    # reset revokes them): the key is to be had "again".
    had_grant: bool = False


def state_for(user: User) -> RecoveryState:
    had_grant = db.session.scalar(sa.select(sa.exists().where(KeyGrant.user_id == user.id)))
    return RecoveryState(
        holds_current_key=keys.holds_current_key(user),
        kit=confirmed_kit(),
        had_grant=bool(had_grant),
    )


@dataclass(frozen=True)
class WayBack:
    """How someone without the organisation key can have it (again), for the case list's
    notice: an admin by the recovery kit when one is confirmed, anyone by an admin's grant."""

    kit: bool
    had_grant: bool


def way_back_columns(user_id: sa.ColumnElement[int]) -> tuple[sa.Exists, sa.Exists]:
    """:class:`WayBack` for ``user_id`` as two SQL columns (a kit is confirmed; the person ever
    had a grant). The case list reads them with its counts, in the statement it runs anyway:
    asked apart, from its template after the listing's commit, they opened a second
    transaction on every view by someone without the key."""
    return (
        sa.exists().where(RecoveryKit.retired_at.is_(None), RecoveryKit.confirmed_at.is_not(None)),
        sa.exists().where(KeyGrant.user_id == user_id),
    )


def _kit_proof(user: User, kit: RecoveryKit) -> str:
    """What only the holder of the kit's secret key can tell the server: a keyed digest of who
    recovers with which kit, sealed to the kit by :func:`kit_payload` and brought back opened
    by :func:`recover`. The server cannot open the grants it is sent, so without this an admin
    who never had the recovery key could post made-up grants, count as a key holder and
    rotate the organisation key to one of their own (a security review)."""
    key = crypto.at_rest_key(str(current_app.config["SECRET_KEY"]), "recovery-proof")
    return crypto.keyed_digest(f"{user.id}:{kit.id}:{kit.public_key}", key)


def kit_payload(user: User) -> dict[str, Any]:
    """What the browser needs to open the kit: its public key (to tell a mistyped recovery key
    from the right one) and the sealed organisation keys; plus the key to grant them to, and
    the proof to open (:func:`_kit_proof`)."""
    kit = confirmed_kit()
    if kit is None:
        raise RecoveryError("no_confirmed_kit", 404)
    rows = db.session.execute(
        sa.select(RecoverySeal, OrgKey)
        .join(OrgKey, OrgKey.id == RecoverySeal.org_key_id)
        .where(RecoverySeal.kit_id == kit.id)
        .order_by(OrgKey.id)
    ).all()
    return {
        "kit_id": kit.id,
        "kit_public_key": kit.public_key,
        "user_public_key": user.public_key,
        "proof": crypto.b64(crypto.seal(_kit_proof(user, kit).encode(), kit.public_key)),
        "seals": [
            {
                "org_key_id": org_key.id,
                "org_public_key": org_key.public_key,
                "sealed_org_secret": seal.sealed_org_secret,
            }
            for seal, org_key in rows
        ],
    }


@transactional
def recover(
    actor: User,
    kit_id: int,
    proof: str,
    grants: dict[int, str],
    sealed_to: str,
    new_kit_public_key: str,
    new_kit_seals: dict[int, str],
) -> RecoveryKit:
    """The admin's browser opened the kit's copies and sealed each key to the admin's own
    public key (``grants``), and sealed them again to a new kit; ``proof``, opened with the
    kit too, shows it holds the recovery key. Grants are written, the used kit retires, the
    new one waits for its confirmation. Audited."""
    locks.serialise(locks.KEY_CUSTODY)
    db.session.refresh(actor)
    if actor.role is not Role.ADMIN or not actor.is_active_account or not actor.public_key:
        raise RecoveryError("not_admin", 403)
    current = keys.current_org_key()
    if current is None:
        raise RecoveryError("no_such_key")
    if keys.active_grant(actor, current) is not None:
        raise RecoveryError("already_hold_key")
    kit = confirmed_kit()
    if kit is None or kit.id != kit_id:
        raise RecoveryError("no_such_kit")
    if not hmac.compare_digest(proof.encode(), _kit_proof(actor, kit).encode()):
        raise RecoveryError("no_proof", 403)
    try:
        keys.check_sealed_to(actor, sealed_to)
    except keys.KeyOperationError as exc:
        raise RecoveryError("key_changed") from exc
    covered = {seal.org_key_id for seal in kit.seals}
    _validate_seals(grants)
    _validate_seals(new_kit_seals)
    if set(grants) != covered or set(new_kit_seals) != covered:
        raise RecoveryError("invalid_kit")
    validate_kit_public_key(new_kit_public_key)
    held = _held_key_ids(actor)
    written = 0
    for org_key_id, sealed in sorted(grants.items()):
        if org_key_id in held:
            continue
        org_key = db.session.get(OrgKey, org_key_id)
        if org_key is None:  # checked by _validate_seals; kept for the type checker
            raise RecoveryError("no_such_key")
        keys.write_grant(org_key, actor, sealed, actor)
        written += 1
    kit.retired_at = utcnow()
    event = audit.record(
        "keys.recovery_kit_used",
        "recovery_kit",
        kit.id,
        actor=actor,
        detail={"grants_written": written},
    )
    # The admin who used it is the account told about, and every other admin.
    security_notices.queue(event, actor)
    return _add_kit(new_kit_public_key, new_kit_seals, actor)


def parse_seals(text: str, id_field: str = "org_key_id") -> dict[int, str] | None:
    """``[{id_field: int, "sealed_org_secret": str}, ...]`` from a browser, or None."""
    try:
        items: Any = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(items, list) or not items or len(items) > MAX_SEALS:
        return None
    seals: dict[int, str] = {}
    for item in items:
        if not isinstance(item, dict):
            return None
        org_key_id, sealed = item.get(id_field), item.get("sealed_org_secret")
        if (
            not isinstance(org_key_id, int)
            or isinstance(org_key_id, bool)
            or not isinstance(sealed, str)
            or org_key_id in seals
            or not 0 < org_key_id < 2**31
        ):
            return None
        seals[org_key_id] = sealed
    return seals
