"""Staff accounts: creation, sign-in checks, TOTP with replay protection, lockout, resets.

Every function that changes an account records an audit event and commits. Views stay thin:
they turn the outcomes here into messages in the user's language.
"""

from __future__ import annotations

import enum
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any

import pyotp
import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm.attributes import set_committed_value

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import KeyGrant, Role, User
from intake.services import audit, locks, sign_in_throttle, staff_sessions
from intake.services.errors import CodedError
from intake.services.passwords import hash_password, needs_rehash, verify_password
from intake.services.transactions import transactional

EMAIL_MAX = 254
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
TOTP_PERIOD = 30
_EMAIL_RE = re.compile(r"^[^@\s<>\"'()\[\],;:\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$")
# Hash checked when an e-mail is unknown, so timing does not tell which accounts exist.
_DUMMY_HASH: dict[str, str] = {}


# Why an account or key-custody request is refused, by stable code (``error.code``).
CUSTODY_MESSAGES: dict[str, Any] = {
    "invalid_email": _l("Enter a valid e-mail address."),
    "email_taken": _l("An account with this e-mail address already exists."),
    "password_too_short": _l("The password is too short."),
    "password_too_long": _l("The password is too long."),
    "invalid_keys": _l(
        "Your browser did not create valid keys. This page needs JavaScript; reload it "
        "and try again."
    ),
    "wrong_password": _l("The password is not correct."),
    "cannot_deactivate_self": _l("You cannot deactivate your own account."),
    "cannot_demote_self": _l("You cannot remove your own admin role."),
    "cannot_reset_self": _l(
        "You cannot reset your own password here: change it on your account page."
    ),
    "last_key_holder": _l(
        "This colleague is the only one holding the organisation key. Grant it to someone "
        "else first, or the encrypted cases could never be opened again."
    ),
    "invalid_grant": _l("The key grant your browser sent is not valid. Nothing was saved."),
    "org_key_exists": _l("The organisation key already exists."),
    "already_granted": _l("This colleague already has the organisation key."),
    "actor_has_no_grant": _l("You do not hold this organisation key yourself."),
    "colleague_has_no_key": _l(
        "This colleague has not set their password yet, so they have no key to grant to."
    ),
    "no_such_key": _l("This organisation key does not exist."),
    "holders_changed": _l(
        "Who holds the key changed while you were on this page. Reload and try again."
    ),
    "no_such_grant": _l("This key grant does not exist or was already revoked."),
    "key_changed": _l(
        "This colleague's key changed while you were on this page (their password was "
        "reset). Reload and try again."
    ),
    "no_such_admin": _l("No active admin has this e-mail address."),
    "no_totp": _l("This account has no second factor yet."),
}


class AccountError(CodedError):
    """A request about an account that cannot be done."""

    MESSAGES = CUSTODY_MESSAGES


# --- validation ------------------------------------------------------------------------------


def normalise_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL_RE.match(email):
        raise AccountError("invalid_email")
    return email


def check_new_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError("password_too_short")
    if len(password) > PASSWORD_MAX:
        raise AccountError("password_too_long")


def wrap_limits() -> tuple[int, int]:
    """Argon2id cost of key wrapping (opslimit, memlimit bytes) the browsers are told to use."""
    config = current_app.config
    return int(config.get("KEY_WRAP_OPS_LIMIT", 3)), int(
        config.get("KEY_WRAP_MEM_LIMIT", 64 * 1024 * 1024)
    )


@dataclass(frozen=True)
class KeyMaterial:
    """A staff keypair as the browser posts it: public key and the password-wrapped secret."""

    public_key: str
    wrapped_secret_key: str
    key_salt: str
    ops_limit: int
    mem_limit: int

    @classmethod
    def from_form(
        cls, public_key: str, wrapped: str, salt: str, ops: str | int, mem: str | int
    ) -> KeyMaterial:
        try:
            crypto.validate_public_key(public_key)
            crypto.validate_exact(wrapped, length=crypto.WRAPPED_KEY_BYTES, what="wrapped key")
            crypto.validate_exact(salt, length=crypto.WRAP_SALT_BYTES, what="key salt")
            ops_limit, mem_limit = int(ops), int(mem)
        except (crypto.InvalidCiphertext, ValueError, TypeError) as exc:
            raise AccountError("invalid_keys") from exc
        if (ops_limit, mem_limit) != wrap_limits():
            raise AccountError("invalid_keys")
        return cls(public_key, wrapped, salt, ops_limit, mem_limit)


def apply_key_material(user: User, keys: KeyMaterial) -> None:
    user.public_key = keys.public_key
    user.wrapped_secret_key = keys.wrapped_secret_key
    user.key_salt = keys.key_salt
    user.key_ops_limit = keys.ops_limit
    user.key_mem_limit = keys.mem_limit


def server_side_keypair(user: User, password: str) -> None:
    """A staff keypair made here and wrapped with the password (CLI only; the web does this in
    the browser)."""
    public, secret = crypto.generate_keypair()
    ops, mem = wrap_limits()
    wrapped = crypto.wrap_secret_key(secret, password, ops_limit=ops, mem_limit=mem)
    apply_key_material(
        user,
        KeyMaterial(public, wrapped.wrapped, wrapped.salt, wrapped.ops_limit, wrapped.mem_limit),
    )


# --- TOTP --------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(user: User) -> str:
    if not user.totp_secret:
        raise AccountError("no_totp")
    issuer = str(current_app.config.get("TOTP_ISSUER", "Refuge"))
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=issuer)


class TotpResult(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    REPLAY = "replay"


def _claim_totp_step(user: User, step: int) -> bool:
    """Mark ``step`` used, as a compare-and-set in the database: of two requests racing with the
    same code, only the one whose UPDATE finds an older step wins (the other's UPDATE waits
    for the row lock on PostgreSQL, or for the write lock on SQLite, then matches no row)."""
    result = db.session.execute(
        sa.update(User)
        .where(User.id == user.id, User.totp_last_step < step)
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    claimed = result.rowcount == 1  # type: ignore[attr-defined]
    if claimed:
        set_committed_value(user, "totp_last_step", step)
    else:
        db.session.expire(user, ["totp_last_step"])
    return bool(claimed)


def check_totp(user: User, code: str, *, now: float | None = None) -> TotpResult:
    """Accept a code for the current step ±1 once: a step at or before the last accepted one
    is a replay. Marks the step used in the database (the caller commits); the check against
    the last step is the UPDATE's, not this object's (possibly stale) copy."""
    code = "".join((code or "").split())
    if not user.totp_secret or not (code.isascii() and code.isdigit()) or len(code) != 6:
        return TotpResult.WRONG
    totp = pyotp.TOTP(user.totp_secret)
    current = int((time.time() if now is None else now) // TOTP_PERIOD)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * TOTP_PERIOD), code):
            if step <= user.totp_last_step or not _claim_totp_step(user, step):
                return TotpResult.REPLAY
            return TotpResult.OK
    return TotpResult.WRONG


# --- creating and finding accounts -------------------------------------------------------------


def find_by_email(email: str) -> User | None:
    try:
        normalised = normalise_email(email)
    except AccountError:
        return None
    return db.session.scalar(sa.select(User).where(User.email == normalised))


def user_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(User)) or 0)


@transactional
def create_user(
    email: str,
    role: Role,
    *,
    password: str | None = None,
    actor: User | None = None,
    keys: KeyMaterial | None = None,
    server_keys: bool = False,
) -> User:
    """A new account. With a password the second factor is enrolled at once (the caller shows
    :func:`otpauth_uri`); without one the account waits for its invite link."""
    email = normalise_email(email)
    if find_by_email(email) is not None:
        raise AccountError("email_taken")
    user = User(email=email, role=role, session_epoch=0)
    if password is not None:
        check_new_password(password)
        user.password_hash = hash_password(password)
        user.totp_secret = new_totp_secret()
        if keys is not None:
            apply_key_material(user, keys)
        elif server_keys:
            server_side_keypair(user, password)
    db.session.add(user)
    db.session.flush()
    audit.record(
        "account.created" if password is not None else "account.invited",
        "user",
        user.id,
        actor=actor,
        detail={"role": role.value},
    )
    return user


@transactional
def set_overdue_reminders_daily(user: User, daily: bool) -> None:
    """Overdue referrals are reminded weekly; whoever wants it every day says so here."""
    user.overdue_reminders_daily = daily
    audit.record("user.reminder_preference", "user", user.id, actor=user, detail={"daily": daily})


@transactional
def record_logout(user: User) -> None:
    audit.record("auth.logout", "user", user.id, actor=user)


# --- sign-in ------------------------------------------------------------------------------------


class LoginResult(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class LoginCheck:
    result: LoginResult
    user: User | None = None
    locked_minutes: int = 0


def _lock_minutes_left(user: User) -> int:
    if user.locked_until is None or user.locked_until <= utcnow():
        return 0
    return max(1, int((user.locked_until - utcnow()).total_seconds() // 60) + 1)


def register_failure(user: User, reason: str) -> None:
    """One more failed attempt on ``user``: the account waits longer before the next one
    counts (sign_in_throttle), instead of being locked for a fixed time."""
    delay = sign_in_throttle.apply_failure(user)
    detail: dict[str, object] = {"reason": reason, "failures": user.failed_logins}
    if delay:
        detail["locked"] = True
        detail["delay_seconds"] = delay
    audit.record("auth.failed", "user", user.id, actor_label=f"user:{user.email}", detail=detail)
    db.session.commit()


def _dummy_hash() -> str:
    if "hash" not in _DUMMY_HASH:
        _DUMMY_HASH["hash"] = hash_password("refuge-dummy-password")
    return _DUMMY_HASH["hash"]


def _refused_locked(user: User, where: str) -> None:
    """The audit trail says the lockout refused an attempt; the caller's answer does not."""
    audit.record(
        "auth.refused_locked",
        "user",
        user.id,
        actor_label=f"user:{user.email}",
        detail={"where": where},
    )
    db.session.commit()


def check_password_step(
    email: str, password: str, *, trusted_user_id: int | None = None
) -> LoginCheck:
    """First step of sign-in. Wrong password and unknown e-mail look the same. The wait after
    failures does not apply on a device this account signed in from before
    (``trusted_user_id``, from intake.auth.devices)."""
    user = find_by_email(email) if len(password) <= PASSWORD_MAX else None
    if user is None:
        verify_password(_dummy_hash(), password[:PASSWORD_MAX])
        audit.record(
            "auth.failed",
            "user",
            "unknown",
            actor_label="public",
            detail={"reason": "unknown_account"},
        )
        db.session.commit()
        return LoginCheck(LoginResult.WRONG)
    minutes = _lock_minutes_left(user) if user.id != trusted_user_id else 0
    if minutes:
        # Checked all the same, so that a locked account takes as long to answer as any other;
        # the caller answers as for a wrong password (no telling which accounts exist).
        verify_password(user.password_hash or _dummy_hash(), password)
        _refused_locked(user, "login")
        return LoginCheck(LoginResult.LOCKED, user, minutes)
    # An invited account has no hash yet: check against a dummy so it answers as slowly as
    # any other (no telling invited accounts apart by timing).
    if not verify_password(user.password_hash or _dummy_hash(), password) or not user.password_hash:
        register_failure(user, "password")
        minutes = _lock_minutes_left(user)
        if minutes:
            return LoginCheck(LoginResult.LOCKED, user, minutes)
        return LoginCheck(LoginResult.WRONG, user)
    if not user.is_active_account or not user.totp_secret:
        audit.record("auth.refused_inactive", "user", user.id, actor_label=f"user:{user.email}")
        db.session.commit()
        return LoginCheck(LoginResult.INACTIVE, user)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return LoginCheck(LoginResult.OK, user)


def check_totp_step(
    user: User, code: str, *, trusted: bool = False
) -> tuple[LoginResult | TotpResult, int]:
    """Second step of sign-in; returns (outcome, minutes to wait). The daily cap on codes
    holds on every device; the wait after failures not on a trusted one."""
    if sign_in_throttle.totp_capped(user):
        _refused_locked(user, "totp_daily_cap")
        return LoginResult.LOCKED, 24 * 60
    minutes = 0 if trusted else _lock_minutes_left(user)
    if minutes:
        return LoginResult.LOCKED, minutes
    if not user.is_active_account:
        return LoginResult.INACTIVE, 0
    outcome = check_totp(user, code)
    if outcome is TotpResult.OK:
        return outcome, 0
    register_failure(user, "totp_replay" if outcome is TotpResult.REPLAY else "totp")
    minutes = 0 if trusted else _lock_minutes_left(user)
    if minutes:
        return LoginResult.LOCKED, minutes
    return outcome, 0


def complete_login(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    audit.record("auth.login", "user", user.id, actor=user)
    db.session.commit()


# --- changes by the account holder -------------------------------------------------------------


def end_all_sessions(user: User) -> None:
    """Every session of ``user`` ends: old cookies stop matching (the epoch moves on) and the
    server-side rows are revoked, wiping the tab keys their keyrings were encrypted with."""
    user.session_epoch += 1
    staff_sessions.revoke_all(user.id)


def logout_everywhere(user: User) -> None:
    end_all_sessions(user)
    audit.record("auth.logout_everywhere", "user", user.id, actor=user)
    db.session.commit()


@transactional
def change_password(user: User, current: str, new: str, keys: KeyMaterial | None) -> None:
    """New password; the browser re-wrapped the same secret key with it (``keys``). The public
    key must not change: grants are sealed to it."""
    if not verify_password(user.password_hash, current):
        register_failure(user, "password_change")
        raise AccountError("wrong_password")
    check_new_password(new)
    if user.public_key:
        if keys is None or keys.public_key != user.public_key:
            raise AccountError("invalid_keys")
        apply_key_material(user, keys)
    elif keys is not None:
        apply_key_material(user, keys)
    user.password_hash = hash_password(new)
    end_all_sessions(user)
    audit.record("auth.password_changed", "user", user.id, actor=user)
    db.session.commit()


# --- invites and resets (admin) ----------------------------------------------------------------

ENROL_SALT = "refuge-enrol-v1"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=ENROL_SALT)


def enrol_token(user: User) -> str:
    """A link token for setting a password and second factor; dies when the account changes
    (its epoch moves on), or after ``ENROL_TOKEN_DAYS``."""
    return str(_serializer().dumps({"u": user.id, "e": user.session_epoch}))


def user_for_enrol_token(token: str) -> User | None:
    if len(token) > 512:
        return None
    days = int(current_app.config.get("ENROL_TOKEN_DAYS", 7))
    try:
        data = _serializer().loads(token, max_age=days * 86400)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    user_id, epoch = data.get("u"), data.get("e")
    if not isinstance(user_id, int) or not isinstance(epoch, int):
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_epoch != epoch or not user.is_active_account:
        return None
    if user.password_hash and user.totp_secret:
        return None  # nothing left to enrol: the link has been used
    return user


@transactional
def complete_enrolment(
    user: User,
    *,
    new_password: str | None,
    current_password: str | None,
    keys: KeyMaterial | None,
) -> None:
    """The colleague sets their password (browser-made keypair) and gets a new second factor."""
    if user.password_hash is None:
        if new_password is None or keys is None:
            raise AccountError("invalid_keys")
        check_new_password(new_password)
        user.password_hash = hash_password(new_password)
        apply_key_material(user, keys)
    else:
        if _lock_minutes_left(user):
            # The lockout holds here too (else this form would be a way round it), and the
            # answer is the same as for a wrong password.
            verify_password(user.password_hash, current_password or "")
            _refused_locked(user, "enrol")
            raise AccountError("wrong_password")
        if current_password is None or not verify_password(user.password_hash, current_password):
            register_failure(user, "enrol_password")
            raise AccountError("wrong_password")
    user.totp_secret = new_totp_secret()
    user.totp_last_step = 0
    end_all_sessions(user)
    user.failed_logins = 0
    user.locked_until = None
    audit.record("account.enrolled", "user", user.id, actor=user)
    db.session.commit()


def revoke_grants(user: User) -> int:
    count = 0
    for grant in db.session.scalars(
        sa.select(KeyGrant).where(KeyGrant.user_id == user.id, KeyGrant.revoked_at.is_(None))
    ):
        grant.revoked_at = utcnow()
        count += 1
    return count


def ensure_not_last_key_holder(user: User) -> None:
    """Refuse to take the keys from the only active holder of an organisation key: nobody
    could open the cases sealed to it any more."""
    locks.serialise(locks.KEY_CUSTODY)
    held = db.session.scalars(
        sa.select(KeyGrant.org_key_id).where(
            KeyGrant.user_id == user.id, KeyGrant.revoked_at.is_(None)
        )
    ).all()
    for org_key_id in held:
        others = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(KeyGrant)
            .join(User, User.id == KeyGrant.user_id)
            .where(
                KeyGrant.org_key_id == org_key_id,
                KeyGrant.revoked_at.is_(None),
                KeyGrant.user_id != user.id,
                User.is_active_account,
            )
        )
        if not others:
            raise AccountError("last_key_holder")


def reset_password(user: User, actor: User) -> str:
    """Forget the password and the keypair it wrapped (a reset user needs a new key grant);
    returns the enrol link token."""
    if user.id == actor.id:
        raise AccountError("cannot_reset_self")
    ensure_not_last_key_holder(user)
    user.password_hash = None
    user.public_key = None
    user.wrapped_secret_key = None
    user.key_salt = None
    user.key_ops_limit = None
    user.key_mem_limit = None
    user.totp_secret = None
    user.totp_last_step = 0
    end_all_sessions(user)
    revoked = revoke_grants(user)
    audit.record(
        "admin.password_reset", "user", user.id, actor=actor, detail={"grants_revoked": revoked}
    )
    db.session.commit()
    return enrol_token(user)


def reset_totp(user: User, actor: User) -> str:
    user.totp_secret = None
    user.totp_last_step = 0
    end_all_sessions(user)
    audit.record("admin.totp_reset", "user", user.id, actor=actor)
    db.session.commit()
    return enrol_token(user)


def set_active(user: User, active: bool, actor: User) -> None:
    if user.id == actor.id and not active:
        raise AccountError("cannot_deactivate_self")
    if not active:
        ensure_not_last_key_holder(user)
    user.is_active_account = active
    end_all_sessions(user)
    if not active:
        revoke_grants(user)
    audit.record(
        "admin.user_activated" if active else "admin.user_deactivated", "user", user.id, actor=actor
    )
    db.session.commit()


def set_role(user: User, role: Role, actor: User) -> None:
    if user.id == actor.id and role is not Role.ADMIN:
        raise AccountError("cannot_demote_self")
    previous = user.role
    user.role = role
    end_all_sessions(user)
    audit.record(
        "admin.role_changed",
        "user",
        user.id,
        actor=actor,
        detail={"from": previous.value, "to": role.value},
    )
    db.session.commit()
