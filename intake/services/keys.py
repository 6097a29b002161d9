"""Organisation keys and key grants (DESIGN §3).

The organisation secret key exists only sealed inside key grants; the web never sees it in the
clear (browsers create, seal and open it). ``init_from_cli`` is the one exception the design
allows: an operator at the server console creates the first key with PyNaCl.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    KeyGrant,
    OrgKey,
    OrgSetting,
    RecoveryKit,
    RecoverySeal,
    Role,
    User,
    directory_version,
)
from intake.services import accounts, audit, key_pins, locks, setup_token
from intake.services.accounts import CUSTODY_MESSAGES, KeyMaterial, server_side_keypair
from intake.services.errors import CodedError
from intake.services.passwords import verify_password
from intake.services.transactions import transactional


class KeyOperationError(CodedError):
    """A key operation that cannot be done."""

    MESSAGES = CUSTODY_MESSAGES


def current_org_key() -> OrgKey | None:
    """The key new cases are sealed to: the newest one not retired."""
    return db.session.scalar(
        sa.select(OrgKey).where(OrgKey.retired_at.is_(None)).order_by(OrgKey.id.desc()).limit(1)
    )


def sealing_key() -> tuple[OrgKey | None, bool]:
    """The current organisation key and whether it matches its pin: the key row and its pin
    read in one statement, on every public page (a key swapped in the database is refused on
    the next request, and no cache can say otherwise); the pin check itself is cached per
    process by the values read (:func:`key_pins.matches`). A submission on PostgreSQL skips
    this read when its insert can check the same facts itself: it stores the case only if
    the database still holds the key, pin and directory version last read here, and reads
    them again otherwise (:class:`intake.services.submissions.TrustedKey`).

    The directory version comes along in the same statement (a submission's triage needs it
    next, :func:`directory_version.current`): one round trip less on every submission."""
    row = db.session.execute(
        sa.select(OrgKey, OrgSetting.value, directory_version.column())
        .outerjoin(OrgSetting, OrgSetting.key == key_pins.pin_name(OrgKey.id))
        .where(OrgKey.retired_at.is_(None))
        .order_by(OrgKey.id.desc())
        .limit(1)
        # The values checked are the ones just read, never an older copy in the session.
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        return None, False
    org_key, pin, version = row
    directory_version.remember(db.session, version)
    return org_key, key_pins.matches(org_key, pin)


def active_grant(user: User, org_key: OrgKey) -> KeyGrant | None:
    return db.session.scalar(
        sa.select(KeyGrant).where(
            KeyGrant.user_id == user.id,
            KeyGrant.org_key_id == org_key.id,
            KeyGrant.revoked_at.is_(None),
        )
    )


def colleagues_needing_grant(org_key_id: int | None) -> list[User]:
    """Active colleagues with a key pair of their own who hold no grant of the organisation
    key ``org_key_id``: they wait for an admin to give them access (/admin, an admin's queue)."""
    if org_key_id is None:
        return []
    has_grant = sa.select(KeyGrant.user_id).where(
        KeyGrant.org_key_id == org_key_id, KeyGrant.revoked_at.is_(None)
    )
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.is_active_account, User.public_key.is_not(None), User.id.not_in(has_grant))
            .order_by(User.email)
        )
    )


def holds_current_key(user: User) -> bool:
    """Whether ``user`` has a grant of the key new cases are sealed to."""
    current = current_org_key()
    return current is not None and active_grant(user, current) is not None


def _new_org_key(public_key: str, actor: User) -> OrgKey:
    key = OrgKey(
        public_key=public_key, fingerprint=crypto.fingerprint(public_key), created_by_id=actor.id
    )
    db.session.add(key)
    db.session.flush()
    # Pinned outside the database's reach: a swapped key would not verify (key_pins).
    key_pins.pin(key)
    return key


def write_grant(org_key: OrgKey, user: User, sealed: str, actor: User) -> KeyGrant:
    existing = db.session.scalar(
        sa.select(KeyGrant).where(KeyGrant.user_id == user.id, KeyGrant.org_key_id == org_key.id)
    )
    if existing is not None:
        if existing.revoked_at is None:
            raise KeyOperationError("already_granted")
        existing.sealed_org_secret = sealed
        existing.revoked_at = None
        existing.granted_by_id = actor.id
        existing.created_at = utcnow()
        grant = existing
    else:
        grant = KeyGrant(
            org_key_id=org_key.id, user_id=user.id, sealed_org_secret=sealed, granted_by_id=actor.id
        )
        db.session.add(grant)
    db.session.flush()
    audit.record(
        "keys.granted",
        "user",
        user.id,
        actor=actor,
        detail={"org_key_id": org_key.id, "grant_id": grant.id},
    )
    return grant


@dataclass(frozen=True)
class InitResult:
    org_key: OrgKey
    grant: KeyGrant


def _cli_password_opens(admin: User, password: str) -> bool:
    """The operator's typed password is this admin's: checked the way their browser would
    (scheme 2: the derived authentication secret; scheme 1: the password itself)."""
    if admin.password_scheme < 2:
        return verify_password(admin.password_hash, password)
    if not admin.key_salt or not admin.key_ops_limit or not admin.key_mem_limit:
        return False
    try:
        salt = crypto.b64decode_strict(admin.key_salt, what="key salt")
    except crypto.InvalidCiphertext:
        return False
    derived = crypto.login_secrets(password, salt, admin.key_ops_limit, admin.key_mem_limit)
    return verify_password(admin.password_hash, derived.auth_secret)


def init_from_cli(admin_email: str, password: str) -> InitResult:
    """`flask keys init`: a new organisation keypair (server-side, PyNaCl), the admin's staff
    key wrapped with their password if they have none yet, and their key grant."""
    admin = db.session.scalar(sa.select(User).where(User.email == admin_email.strip().lower()))
    if admin is None or admin.role is not Role.ADMIN or not admin.is_active_account:
        raise KeyOperationError("no_such_admin")
    if not _cli_password_opens(admin, password):
        raise KeyOperationError("wrong_password")
    if current_org_key() is not None:
        raise KeyOperationError("org_key_exists")
    if admin.public_key is None:
        server_side_keypair(admin, password)
    else:
        # Their key was wrapped in a browser: prove the password opens it before trusting it.
        try:
            if admin.key_scheme >= 2:
                derived = crypto.login_secrets(
                    password,
                    crypto.b64decode_strict(admin.key_salt or "", what="key salt"),
                    admin.key_ops_limit or 0,
                    admin.key_mem_limit or 0,
                )
                crypto.unwrap_with_key(admin.wrapped_secret_key or "", derived.wrapping_key)
            else:
                crypto.unwrap_secret_key(
                    crypto.WrappedKey(
                        admin.wrapped_secret_key or "",
                        admin.key_salt or "",
                        admin.key_ops_limit or 0,
                        admin.key_mem_limit or 0,
                    ),
                    password,
                )
        except (crypto.InvalidCiphertext, ValueError) as exc:
            raise KeyOperationError("wrong_password") from exc
    public, secret = crypto.generate_keypair()
    org_key = _new_org_key(public, admin)
    audit.record("keys.org_key_created", "org_key", org_key.id, actor=admin, detail={"via": "cli"})
    grant = write_grant(
        org_key, admin, crypto.seal_key_grant(secret, admin.public_key or ""), admin
    )
    db.session.commit()
    return InitResult(org_key, grant)


def validate_sealed_grant(sealed: str) -> str:
    try:
        return crypto.validate_exact(sealed, length=crypto.SEALED_KEY_BYTES, what="key grant")
    except crypto.InvalidCiphertext as exc:
        raise KeyOperationError("invalid_grant") from exc


# A recovery kit not confirmed within this time was abandoned: its key was shown once, on a
# page since left, so nobody can confirm it any more. It is neither listed nor sealed to.
KIT_CONFIRMATION_WINDOW = timedelta(hours=1)


def kit_in_force() -> sa.ColumnElement[bool]:
    """The recovery kits a rotation seals the new key to: confirmed and not retired, or made
    within the last hour and still waiting for their confirmation."""
    return sa.and_(
        RecoveryKit.retired_at.is_(None),
        sa.or_(
            RecoveryKit.confirmed_at.is_not(None),
            RecoveryKit.created_at > utcnow() - KIT_CONFIRMATION_WINDOW,
        ),
    )


class SetupClosed(KeyOperationError):
    """Someone else completed the first run a moment earlier."""

    def __init__(self) -> None:
        super().__init__("setup_closed", 404)


@transactional
def set_up_organisation(
    email: str, auth_secret: str, keys: KeyMaterial, org_public_key: str, sealed_org_secret: str
) -> tuple[User, OrgKey]:
    """The first run (/setup): the first admin, with keys made in their browser, and the
    organisation key their browser made and sealed to them — all of it, or nothing."""
    admin = accounts.create_user(email, Role.ADMIN, auth_secret=auth_secret, keys=keys)
    # Two first runs at once: the audit chain lock (PostgreSQL) or the write lock (SQLite)
    # orders them; the second then sees the first admin and stops here.
    if accounts.user_count() != 1:
        raise SetupClosed()
    org_key = init_from_browser(admin, org_public_key, sealed_org_secret)
    audit.record("setup.completed", "user", admin.id, actor=admin)
    setup_token.spend()
    return admin, org_key


@transactional
def init_from_browser(admin: User, org_public_key: str, sealed_org_secret: str) -> OrgKey:
    """First run: the browser made the organisation keypair and sealed its secret to the
    admin's (browser-made) public key. We store only the public key and the sealed blob."""
    try:
        crypto.validate_public_key(org_public_key)
    except crypto.InvalidCiphertext as exc:
        raise KeyOperationError("invalid_grant") from exc
    validate_sealed_grant(sealed_org_secret)
    if current_org_key() is not None:
        raise KeyOperationError("org_key_exists")
    org_key = _new_org_key(org_public_key, admin)
    audit.record(
        "keys.org_key_created", "org_key", org_key.id, actor=admin, detail={"via": "setup"}
    )
    write_grant(org_key, admin, sealed_org_secret, admin)
    return org_key


def check_sealed_to(user: User, sealed_to: str) -> None:
    """The browser says which public key it sealed to; it must be the user's key now. (Their
    password may have been reset, giving them a new keypair, after the admin's page loaded: a
    grant sealed to the old key could never be opened, and would hide that they have none.)"""
    if not user.public_key or not hmac.compare_digest(
        sealed_to.encode("utf-8", "replace"), user.public_key.encode("ascii")
    ):
        raise KeyOperationError("key_changed")


def grant(
    org_key_id: int, colleague: User, sealed_org_secret: str, actor: User, *, sealed_to: str
) -> KeyGrant:
    """An admin's browser sealed the organisation secret to a colleague's public key
    (``sealed_to``, which must still be the colleague's key)."""
    validate_sealed_grant(sealed_org_secret)
    # A reset of the colleague committing meanwhile would revoke their grants and forget the
    # key this one was sealed to: take turns, and read their current key afresh.
    locks.serialise(locks.KEY_CUSTODY)
    db.session.refresh(colleague)
    org_key = db.session.get(OrgKey, org_key_id)
    if org_key is None:
        raise KeyOperationError("no_such_key")
    if actor.role is not Role.ADMIN or active_grant(actor, org_key) is None:
        raise KeyOperationError("actor_has_no_grant")
    if not colleague.is_active_account or not colleague.public_key:
        raise KeyOperationError("colleague_has_no_key")
    check_sealed_to(colleague, sealed_to)
    result = write_grant(org_key, colleague, sealed_org_secret, actor)
    db.session.commit()
    return result


def _other_holders(record: KeyGrant) -> int:
    """Active colleagues other than ``record``'s who hold its organisation key."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(KeyGrant)
            .join(User, User.id == KeyGrant.user_id)
            .where(
                KeyGrant.org_key_id == record.org_key_id,
                KeyGrant.revoked_at.is_(None),
                KeyGrant.id != record.id,
                User.is_active_account,
                User.public_key.is_not(None),
            )
        )
        or 0
    )


def revocable(grant_id: int) -> KeyGrant:
    """The grant ``grant_id`` if it may be revoked (the confirmation step shows it; revoke asks
    again under the lock), else the refusal."""
    record = db.session.get(KeyGrant, grant_id)
    if record is None or record.revoked_at is not None:
        raise KeyOperationError("no_such_grant")
    if _other_holders(record) == 0:
        raise KeyOperationError("last_key_holder")
    return record


def revoke(grant_id: int, actor: User) -> KeyGrant:
    """Take one grant away; never the last one of an organisation key (as
    accounts.holds_a_key_alone for deactivation and resets): with nobody holding it,
    every case sealed to that key could never be opened again."""
    locks.serialise(locks.KEY_CUSTODY)
    record = revocable(grant_id)
    record.revoked_at = utcnow()
    audit.record(
        "keys.revoked",
        "user",
        record.user_id,
        actor=actor,
        detail={"org_key_id": record.org_key_id, "grant_id": record.id},
    )
    db.session.commit()
    return record


@transactional
def fetch_keyring(user: User) -> dict[str, Any]:
    """The keyring for the user's browser, its fetch audited."""
    audit.record("keys.keyring_fetched", "user", user.id, actor=user)
    return keyring_payload(user)


def keyring_payload(user: User) -> dict[str, Any]:
    """What a browser needs to unlock: the wrapped staff key and the sealed grants."""
    grants = db.session.execute(
        sa.select(KeyGrant, OrgKey)
        .join(OrgKey, OrgKey.id == KeyGrant.org_key_id)
        .where(KeyGrant.user_id == user.id, KeyGrant.revoked_at.is_(None))
        .order_by(OrgKey.id)
    ).all()
    current = current_org_key()
    return {
        "user_public_key": user.public_key,
        "wrapped_secret_key": user.wrapped_secret_key,
        "key_salt": user.key_salt,
        "ops_limit": user.key_ops_limit,
        "mem_limit": user.key_mem_limit,
        "key_scheme": user.key_scheme,
        "current_org_key_id": current.id if current is not None else None,
        "grants": [
            {
                "org_key_id": org_key.id,
                "org_public_key": org_key.public_key,
                "sealed_org_secret": key_grant.sealed_org_secret,
            }
            for key_grant, org_key in grants
        ],
    }


MAX_HOLDERS = 2000


def current_holders(org_key: OrgKey) -> list[User]:
    """Active staff who hold ``org_key`` (an active grant)."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(KeyGrant, KeyGrant.user_id == User.id)
            .where(
                KeyGrant.org_key_id == org_key.id,
                KeyGrant.revoked_at.is_(None),
                User.is_active_account,
                User.public_key.is_not(None),
            )
            .order_by(User.id)
        )
    )


def rotate(
    actor: User,
    new_public_key: str,
    sealed_by_user: dict[int, str],
    sealed_to: dict[int, str],
    kit_seals: dict[int, str] | None = None,
) -> OrgKey:
    """A new organisation key made in an admin's browser, sealed there to everyone who holds
    the current one (``sealed_to``: the public key each was sealed to, which must be the
    holder's key now) and to every recovery kit in force (``kit_seals`` by kit id: one kit
    keeps opening every key the organisation has had); the current key is retired (kept for
    the cases sealed to it). Someone whose grant was revoked before the rotation cannot open
    anything sealed from now on."""
    kit_seals = kit_seals or {}
    current = current_org_key()
    if current is None:
        raise KeyOperationError("no_such_key")
    if actor.role is not Role.ADMIN or active_grant(actor, current) is None:
        raise KeyOperationError("actor_has_no_grant")
    try:
        crypto.validate_public_key(new_public_key)
    except crypto.InvalidCiphertext as exc:
        raise KeyOperationError("invalid_grant") from exc
    holders = {user.id: user for user in current_holders(current)}
    if set(sealed_by_user) != set(holders) or actor.id not in holders:
        raise KeyOperationError("holders_changed")
    for sealed in [*sealed_by_user.values(), *kit_seals.values()]:
        validate_sealed_grant(sealed)
    kits = set(db.session.scalars(sa.select(RecoveryKit.id).where(kit_in_force())))
    if set(kit_seals) != kits:
        raise KeyOperationError("kit_changed")
    if set(sealed_to) != set(holders):
        raise KeyOperationError("holders_changed")
    for user_id, user in holders.items():
        check_sealed_to(user, sealed_to[user_id])
    if db.session.scalar(sa.select(OrgKey.id).where(OrgKey.public_key == new_public_key)):
        raise KeyOperationError("invalid_grant")
    new_key = _new_org_key(new_public_key, actor)
    current.retired_at = utcnow()
    audit.record(
        "keys.rotated",
        "org_key",
        new_key.id,
        actor=actor,
        detail={
            "retired_org_key_id": current.id,
            "holders": len(holders),
            "recovery_kits": sorted(kit_seals),
        },
    )
    for user_id, sealed in sorted(sealed_by_user.items()):
        write_grant(new_key, holders[user_id], sealed, actor)
    for kit_id, sealed in sorted(kit_seals.items()):
        db.session.add(RecoverySeal(kit_id=kit_id, org_key_id=new_key.id, sealed_org_secret=sealed))
    db.session.commit()
    return new_key
