"""Staff accounts: creation, sign-in checks, TOTP with replay protection, lockout, resets.

The password never reaches the server (DESIGN §3): the browser derives from it an
authentication secret, which is what these functions receive and check against an Argon2id
hash, and a key-wrapping key, which never leaves the browser. Only the command line
(``users create``, ``keys init``) sees a password, and derives the same two secrets here.
Accounts from before (``password_scheme`` 1) post their password one last time at their next
sign-in, together with the new authentication secret, and move to scheme 2.

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
from intake.models import KeyGrant, Passkey, RecoveryCode, Role, User
from intake.services import audit, locks, security_notices, sign_in_throttle, staff_sessions
from intake.services.errors import CodedError
from intake.services.passwords import hash_password, needs_rehash, verify_password
from intake.services.transactions import transactional

EMAIL_MAX = 254
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
TOTP_PERIOD = 30
# An address as an account may have it; /setup's browser checks the same (setup.js), before
# it makes the recovery kit that a refused address would make worthless.
EMAIL_PATTERN = r"^[^@\s<>\"'()\[\],;:\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$"
_EMAIL_RE = re.compile(EMAIL_PATTERN)
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
    "cannot_reset_own_second_factor": _l(
        "You cannot reset your own second factor here: manage it on your account page."
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
    "kit_changed": _l(
        "The recovery kit changed while you were on this page. Reload and try again."
    ),
    "no_such_admin": _l("No active admin has this e-mail address."),
    "no_totp": _l("This account has no second factor yet."),
    "already_enrolled": _l(
        "This colleague has set a password already: reset it to send a new link."
    ),
    "inactive": _l("This account is deactivated: activate it first."),
    "no_such_account": _l("No account has this e-mail address."),
    "invalid_auth": _l(
        "Your browser did not send a valid sign-in proof. This page needs JavaScript; reload "
        "it and try again."
    ),
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
    return int(config["KEY_WRAP_OPS_LIMIT"]), int(config["KEY_WRAP_MEM_LIMIT"])


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
    """Scheme 2: ``key_salt`` and the limits are also what the password is derived with at
    sign-in; the secret is wrapped with the derived key-wrapping key."""
    user.public_key = keys.public_key
    user.wrapped_secret_key = keys.wrapped_secret_key
    user.key_salt = keys.key_salt
    user.key_ops_limit = keys.ops_limit
    user.key_mem_limit = keys.mem_limit
    user.key_scheme = 2


def validate_auth_secret(text: str | None) -> str:
    """The authentication secret a browser derived: 32 bytes, base64 ORIGINAL."""
    try:
        return crypto.validate_exact(
            text or "", length=crypto.AUTH_SECRET_BYTES, what="authentication secret"
        )
    except crypto.InvalidCiphertext as exc:
        raise AccountError("invalid_auth") from exc


def set_auth_secret(user: User, auth_secret: str) -> None:
    user.password_hash = hash_password(validate_auth_secret(auth_secret))
    user.password_scheme = 2


def server_side_credentials(user: User, password: str, *, with_keypair: bool) -> None:
    """What a browser does at enrolment, done here from a password the operator typed (CLI
    only): the login salt, the authentication secret's hash and, if asked, a staff keypair
    wrapped with the derived key-wrapping key."""
    ops, mem = wrap_limits()
    salt = crypto.new_salt()
    secrets_ = crypto.login_secrets(password, salt, ops, mem)
    set_auth_secret(user, secrets_.auth_secret)
    user.key_salt, user.key_ops_limit, user.key_mem_limit = crypto.b64(salt), ops, mem
    user.key_scheme = 2
    if with_keypair:
        public, secret = crypto.generate_keypair()
        user.public_key = public
        user.wrapped_secret_key = crypto.wrap_with_key(secret, secrets_.wrapping_key)


def server_side_keypair(user: User, password: str) -> None:
    """A staff keypair for an account that has none yet (``keys init``), with the password
    split as the browser splits it."""
    server_side_credentials(user, password, with_keypair=True)


@dataclass(frozen=True)
class LoginSalt:
    """What /auth/salt tells a browser about an e-mail: how to derive from the password."""

    salt: str
    ops_limit: int
    mem_limit: int
    upgrade: bool  # an account of scheme 1: post the password once more, with the new secret


@transactional
def login_salt(email: str) -> LoginSalt:
    """The salt and limits the browser derives with. An address without an account (or an
    invitation not yet accepted) gets a decoy salt that is the same on every ask, so this
    cannot tell which accounts exist. (Accounts of scheme 1, until their next sign-in, are
    told apart: that ends when each has signed in once.)"""
    ops, mem = wrap_limits()
    user = find_by_email(email)
    if user is None or not user.password_hash:
        try:
            normalised = normalise_email(email)
        except AccountError:
            normalised = (email or "").strip().lower()[:EMAIL_MAX]
        secret = str(current_app.config["SECRET_KEY"])
        return LoginSalt(crypto.decoy_salt(normalised, secret), ops, mem, upgrade=False)
    if not user.key_salt or not user.key_ops_limit or not user.key_mem_limit:
        # A scheme-1 account without keys: it gets its login salt now, once.
        user.key_salt, user.key_ops_limit, user.key_mem_limit = (
            crypto.b64(crypto.new_salt()),
            ops,
            mem,
        )
    return LoginSalt(
        user.key_salt, user.key_ops_limit, user.key_mem_limit, upgrade=user.password_scheme < 2
    )


# --- TOTP --------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(user: User, secret: str | None = None) -> str:
    """The provisioning URI of ``user``'s secret (or of a ``secret`` not yet theirs)."""
    secret = secret or user.totp_secret
    if not secret:
        raise AccountError("no_totp")
    issuer = str(current_app.config["TOTP_ISSUER"])
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


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
    auth_secret: str | None = None,
    actor: User | None = None,
    keys: KeyMaterial | None = None,
    server_keys: bool = False,
    totp_confirmed: bool = False,
) -> User:
    """A new account. From a browser: ``auth_secret`` and ``keys`` (the password stayed
    there). From the command line: ``password``, split here as a browser would. With either
    the second factor is enrolled at once (the caller shows :func:`otpauth_uri`); with
    neither the account waits for its invite link. The holder confirms the
    TOTP with a code unless ``totp_confirmed`` (the operator's command line hands the URI over
    itself)."""
    email = normalise_email(email)
    if find_by_email(email) is not None:
        raise AccountError("email_taken")
    user = User(email=email, role=role, session_epoch=0, password_scheme=2, key_scheme=2)
    created = password is not None or auth_secret is not None
    if auth_secret is not None:
        if keys is None:
            raise AccountError("invalid_keys")
        set_auth_secret(user, auth_secret)
        apply_key_material(user, keys)
    elif password is not None:
        check_new_password(password)
        server_side_credentials(user, password, with_keypair=server_keys)
    if created:
        user.totp_secret = new_totp_secret()
        user.totp_confirmed_at = utcnow() if totp_confirmed else None
    db.session.add(user)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # The same form posted twice at once (a double click): the other post's account was
        # not there yet when this one looked, and the unique e-mail refused this one (a 500).
        db.session.rollback()
        if find_by_email(email) is None:
            raise
        raise AccountError("email_taken") from None
    audit.record(
        "account.created" if created else "account.invited",
        "user",
        user.id,
        # Keys made in a browser with nobody else signed in: the first admin at /setup made
        # their own account ("Refuge (automatic)" in the log said it was the system).
        actor=actor if actor is not None or auth_secret is None else user,
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
    # The password is right but the account has nothing to sign in with at the second step
    # (its factors were reset, and the new app not confirmed): only an admin or the operator
    # can help.
    NO_SECOND_FACTOR = "no_second_factor"
    # The same for an account that never signed in: its holder set it up and left before
    # confirming the app, and may set one up again (second_factor.restart_enrolment).
    ENROLMENT_UNFINISHED = "enrolment_unfinished"


@dataclass(frozen=True)
class LoginCheck:
    result: LoginResult
    user: User | None = None
    locked_minutes: int = 0


def _lock_minutes_left(user: User) -> int:
    if user.locked_until is None or user.locked_until <= utcnow():
        return 0
    return max(1, int((user.locked_until - utcnow()).total_seconds() // 60) + 1)


lock_minutes_left = _lock_minutes_left


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


def _proof_matches(user: User, auth_secret: str, legacy_password: str | None) -> bool:
    """Scheme 2: the authentication secret. Scheme 1: the password, posted one last time."""
    if user.password_scheme < 2:
        return verify_password(user.password_hash or _dummy_hash(), legacy_password or "")
    return verify_password(user.password_hash or _dummy_hash(), auth_secret)


refused_locked = _refused_locked


def _has_second_factor(user: User) -> bool:
    from intake.services import second_factor  # it builds on this module

    return second_factor.can_sign_in(user)


def _enrolment_unfinished(user: User) -> bool:
    from intake.services import second_factor  # it builds on this module

    return second_factor.enrolment_unfinished(user)


def check_password_step(
    email: str,
    auth_secret: str,
    *,
    legacy_password: str | None = None,
    trusted_user_id: int | None = None,
) -> LoginCheck:
    """First step of sign-in, with the authentication secret the browser derived from the
    password (and, for an account of scheme 1, the password itself one last time: it then
    moves to scheme 2). Wrong password and unknown e-mail look the same. The wait after
    failures does not apply on a device this account signed in from before
    (``trusted_user_id``, from intake.auth.devices)."""
    validate_auth_secret(auth_secret)
    if legacy_password is not None and len(legacy_password) > PASSWORD_MAX:
        legacy_password = None
    user = find_by_email(email)
    if user is None:
        verify_password(_dummy_hash(), auth_secret)
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
        _proof_matches(user, auth_secret, legacy_password)
        _refused_locked(user, "login")
        return LoginCheck(LoginResult.LOCKED, user, minutes)
    # An invited account has no hash yet: check against a dummy so it answers as slowly as
    # any other (no telling invited accounts apart by timing).
    if not _proof_matches(user, auth_secret, legacy_password) or not user.password_hash:
        register_failure(user, "password")
        minutes = _lock_minutes_left(user)
        if minutes:
            return LoginCheck(LoginResult.LOCKED, user, minutes)
        return LoginCheck(LoginResult.WRONG, user)
    if not user.is_active_account:
        audit.record("auth.refused_inactive", "user", user.id, actor_label=f"user:{user.email}")
        db.session.commit()
        return LoginCheck(LoginResult.INACTIVE, user)
    if _enrolment_unfinished(user):
        # Audited by second_factor.restart_enrolment, which the caller runs next.
        return LoginCheck(LoginResult.ENROLMENT_UNFINISHED, user)
    if not _has_second_factor(user):
        audit.record(
            "auth.refused_no_second_factor", "user", user.id, actor_label=f"user:{user.email}"
        )
        db.session.commit()
        return LoginCheck(LoginResult.NO_SECOND_FACTOR, user)
    if user.password_scheme < 2:
        # The last time this password reached the server: from now on only the secret does.
        set_auth_secret(user, auth_secret)
        audit.record("auth.scheme_upgraded", "user", user.id, actor_label=f"user:{user.email}")
        db.session.commit()
    elif user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(auth_secret)
        db.session.commit()
    return LoginCheck(LoginResult.OK, user)


def confirm_password(
    user: User, proof: str, legacy_password: str | None = None, *, reason: str
) -> None:
    """A signed-in holder proves their password again before a sensitive change. A wrong one
    counts as a failed sign-in (and so does any attempt while the account waits)."""
    proof = validate_auth_secret(proof)
    if _lock_minutes_left(user):
        _proof_matches(user, proof, legacy_password)
        _refused_locked(user, reason)
        raise AccountError("wrong_password")
    if not _proof_matches(user, proof, legacy_password) or not user.password_hash:
        register_failure(user, reason)
        raise AccountError("wrong_password")


def complete_login(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    audit.record("auth.login", "user", user.id, actor=user)
    db.session.commit()


# --- changes by the account holder -------------------------------------------------------------


def end_all_sessions(user: User, *, but: int | None = None) -> None:
    """Every session of ``user`` ends: old cookies stop matching (the epoch moves on) and the
    server-side rows are revoked, wiping the tab keys their keyrings were encrypted with.
    ``but``: the row of the session that made the change, which goes on (its cookie is given
    the new epoch: intake.auth.sessions.continue_session)."""
    user.session_epoch += 1
    staff_sessions.revoke_all(user.id, but=but)


def logout_everywhere(user: User) -> None:
    end_all_sessions(user)
    audit.record("auth.logout_everywhere", "user", user.id, actor=user)
    db.session.commit()


@transactional
def change_password(
    user: User, current_auth_secret: str, new_auth_secret: str, keys: KeyMaterial | None
) -> None:
    """New password: the browser proved the current one (its authentication secret), derived
    the new secrets with a new salt and re-wrapped the same secret key (``keys``, which also
    carry the new salt). The public key must not change: grants are sealed to it."""
    validate_auth_secret(new_auth_secret)
    # As every other proof of the password: refused while the account waits, as sign-in is
    # (a review found six wrong tries here, then the right one accepted during the wait).
    confirm_password(user, current_auth_secret, reason="password_change")
    if keys is None:
        raise AccountError("invalid_keys")
    if user.public_key and keys.public_key != user.public_key:
        raise AccountError("invalid_keys")
    apply_key_material(user, keys)
    set_auth_secret(user, new_auth_secret)
    end_all_sessions(user)
    audit.record("auth.password_changed", "user", user.id, actor=user)
    db.session.commit()


# --- invites and resets (admin) ----------------------------------------------------------------

ENROL_SALT = "refuge-enrol-v1"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=ENROL_SALT)


def epoch_claim(user: User) -> dict[str, int]:
    """What a signed token or cookie says about an account: it dies when the epoch moves on
    (a password change or reset, sign-out everywhere)."""
    return {"u": user.id, "e": user.session_epoch}


def user_of_claim(data: object) -> User | None:
    """The account an :func:`epoch_claim` names, if it still holds."""
    if not isinstance(data, dict):
        return None
    user_id, epoch = data.get("u"), data.get("e")
    if not isinstance(user_id, int) or not isinstance(epoch, int):
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_epoch != epoch:
        return None
    return user


def enrol_token(user: User) -> str:
    """A link token for setting a password and second factor; dies when the account changes
    (its epoch moves on), or after ``ENROL_TOKEN_DAYS``."""
    return str(_serializer().dumps(epoch_claim(user)))


def user_for_enrol_token(token: str) -> User | None:
    if len(token) > 512:
        return None
    days = int(current_app.config["ENROL_TOKEN_DAYS"])
    try:
        data = _serializer().loads(token, max_age=days * 86400)
    except (BadSignature, SignatureExpired):
        return None
    user = user_of_claim(data)
    if user is None or not user.is_active_account:
        return None
    if user.password_hash and user.totp_secret and user.totp_confirmed_at is not None:
        return None  # nothing left to enrol: the link has been used
    return user


@transactional
def complete_enrolment(
    user: User,
    *,
    new_auth_secret: str | None,
    current_auth_secret: str | None,
    keys: KeyMaterial | None,
    legacy_password: str | None = None,
) -> None:
    """The colleague sets their password (browser-made keypair and authentication secret) and
    gets a new second factor; or, after a second-factor reset, proves the password they have
    (its authentication secret; the password itself for an account of scheme 1)."""
    if user.password_hash is None:
        if new_auth_secret is None or keys is None:
            raise AccountError("invalid_keys")
        set_auth_secret(user, new_auth_secret)
        apply_key_material(user, keys)
    else:
        proof = validate_auth_secret(current_auth_secret)
        if _lock_minutes_left(user):
            # The lockout holds here too (else this form would be a way round it), and the
            # answer is the same as for a wrong password.
            _proof_matches(user, proof, legacy_password)
            _refused_locked(user, "enrol")
            raise AccountError("wrong_password")
        if not _proof_matches(user, proof, legacy_password):
            register_failure(user, "enrol_password")
            raise AccountError("wrong_password")
        if user.password_scheme < 2:
            set_auth_secret(user, proof)
    issue_pending_totp(user)
    audit.record("account.enrolled", "user", user.id, actor=user)
    db.session.commit()


def issue_pending_totp(user: User) -> None:
    """A new TOTP secret that counts only once its holder types a code from it
    (second_factor.confirm_totp); whatever was pending before stops working."""
    user.totp_secret = new_totp_secret()
    user.totp_confirmed_at = None  # until the holder types a code from it
    user.totp_last_step = 0
    end_all_sessions(user)
    user.failed_logins = 0
    user.locked_until = None


def forget_second_factors(user: User) -> None:
    """A reset takes every second factor: the lost phone may hold the passkey too."""
    user.totp_confirmed_at = None
    for model in (Passkey, RecoveryCode):
        db.session.execute(sa.delete(model).where(model.user_id == user.id))


def revoke_grants(user: User) -> int:
    count = 0
    for grant in db.session.scalars(
        sa.select(KeyGrant).where(KeyGrant.user_id == user.id, KeyGrant.revoked_at.is_(None))
    ):
        grant.revoked_at = utcnow()
        count += 1
    return count


def holds_a_key_alone(user: User) -> bool:
    """Whether ``user`` is the only active holder of one of their organisation keys: taking
    their keys would leave nobody able to open the cases sealed to it. No lock here; a change
    asks under the custody lock."""
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
            return True
    return False


def active_grant_count(user: User) -> int:
    """How many organisation keys ``user`` holds now (what a reset or deactivation revokes)."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(KeyGrant)
            .where(KeyGrant.user_id == user.id, KeyGrant.revoked_at.is_(None))
        )
        or 0
    )


@transactional
def rewrap_key(user: User, auth_secret: str, wrapped_secret_key: str) -> None:
    """A key of scheme 1 (wrapped with crypto_pwhash of the password itself) re-wrapped by the
    browser at unlock with the derived key-wrapping key; same salt, same keypair. The
    authentication secret proves the password (a stolen session alone cannot replace the
    wrapped key)."""
    try:
        crypto.validate_exact(
            wrapped_secret_key, length=crypto.WRAPPED_KEY_BYTES, what="wrapped key"
        )
    except crypto.InvalidCiphertext as exc:
        raise AccountError("invalid_keys") from exc
    if user.key_scheme >= 2 or not user.public_key:
        raise AccountError("invalid_keys")
    if user.password_scheme < 2 or not verify_password(
        user.password_hash, validate_auth_secret(auth_secret)
    ):
        raise AccountError("wrong_password")
    user.wrapped_secret_key = wrapped_secret_key
    user.key_scheme = 2
    audit.record("keys.rewrapped", "user", user.id, actor=user)


def forget_credentials(user: User) -> None:
    """The password, the keypair it wrapped (and so the grants sealed to it: the person needs
    a colleague's new grant, or the recovery kit) and the second factor."""
    user.password_hash = None
    user.public_key = None
    user.wrapped_secret_key = None
    user.key_salt = None
    user.key_ops_limit = None
    user.key_mem_limit = None
    user.password_scheme = 2
    user.key_scheme = 2
    user.totp_secret = None
    user.totp_last_step = 0
    forget_second_factors(user)
    end_all_sessions(user)


@transactional
def operator_reset_password(email: str) -> str:
    """`flask users reset-password`: whoever runs the server gives a locked-out person their
    access back (a one-time enrol link token). Not their key: that needs a colleague's grant
    or the recovery kit (/recover). Their old grants are revoked — they were sealed to a key
    nobody can open any more."""
    user = find_by_email(email)
    if user is None:
        raise AccountError("no_such_account")
    forget_credentials(user)
    revoked = revoke_grants(user)
    user.failed_logins = 0
    user.locked_until = None
    event = audit.record(
        "operator.password_reset",
        "user",
        user.id,
        actor_label="operator:cli",
        detail={"grants_revoked": revoked},
    )
    security_notices.queue(event, user)
    return enrol_token(user)


@transactional
def operator_reset_totp(email: str) -> str:
    """`flask users reset-totp`: the second factor is forgotten; the enrol link sets a new one
    after the person proves their password (in their browser, as at sign-in)."""
    user = find_by_email(email)
    if user is None:
        raise AccountError("no_such_account")
    user.totp_secret = None
    user.totp_last_step = 0
    user.failed_logins = 0
    user.locked_until = None
    end_all_sessions(user)
    event = audit.record("operator.totp_reset", "user", user.id, actor_label="operator:cli")
    security_notices.queue(event, user)
    return enrol_token(user)


# --- what an admin does to a colleague's account --------------------------------------------
#
# The admin pages ask for a confirmation before a reset or a deactivation. They call the
# refuse_* check first, so that nobody is asked to confirm what would be refused; the change
# itself checks again (under the custody lock where keys are at stake).


def refuse_password_reset(user: User, actor: User) -> None:
    """Raise why ``actor`` may not reset ``user``'s password, if they may not."""
    if user.id == actor.id:
        raise AccountError("cannot_reset_self")
    if holds_a_key_alone(user):
        raise AccountError("last_key_holder")


def refuse_totp_reset(user: User, actor: User) -> None:
    """An admin's own second factors are theirs to manage on their account page: a reset here
    would sign them out with nothing to sign in with."""
    if user.id == actor.id:
        raise AccountError("cannot_reset_own_second_factor")


def refuse_deactivation(user: User, actor: User) -> None:
    if user.id == actor.id:
        raise AccountError("cannot_deactivate_self")
    if holds_a_key_alone(user):
        raise AccountError("last_key_holder")


def reset_password(user: User, actor: User) -> str:
    """Forget the password and the keypair it wrapped (a reset user needs a new key grant);
    returns the enrol link token."""
    locks.serialise(locks.KEY_CUSTODY)
    refuse_password_reset(user, actor)
    forget_credentials(user)
    revoked = revoke_grants(user)
    event = audit.record(
        "admin.password_reset", "user", user.id, actor=actor, detail={"grants_revoked": revoked}
    )
    security_notices.queue(event, user)
    db.session.commit()
    return enrol_token(user)


def reset_totp(user: User, actor: User) -> str:
    refuse_totp_reset(user, actor)
    user.totp_secret = None
    user.totp_last_step = 0
    forget_second_factors(user)
    end_all_sessions(user)
    security_notices.queue(audit.record("admin.totp_reset", "user", user.id, actor=actor), user)
    db.session.commit()
    return enrol_token(user)


def invite_again(user: User, actor: User) -> str:
    """A new invite link for a colleague who has not set a password yet (the first link was
    lost, or ran out): nothing of theirs changes, so nothing is asked to confirm. An account
    with a password is reset instead (:func:`reset_password`: it has keys to revoke)."""
    if not user.is_active_account:
        raise AccountError("inactive")
    if user.password_hash:
        raise AccountError("already_enrolled")
    audit.record("admin.invite_link", "user", user.id, actor=actor)
    db.session.commit()
    return enrol_token(user)


def deactivate(user: User, actor: User) -> None:
    """End ``user``'s sessions and key grants and keep them from signing in, inside the
    caller's transaction (``handover.deactivate`` also hands on what they hold)."""
    locks.serialise(locks.KEY_CUSTODY)
    refuse_deactivation(user, actor)
    user.is_active_account = False
    end_all_sessions(user)
    revoke_grants(user)
    audit.record("admin.user_deactivated", "user", user.id, actor=actor)


def activate(user: User, actor: User) -> None:
    """Let ``user`` sign in again (their revoked key grants stay revoked)."""
    user.is_active_account = True
    end_all_sessions(user)
    audit.record("admin.user_activated", "user", user.id, actor=actor)
    db.session.commit()


@transactional
def set_role(user: User, role: Role, actor: User) -> None:
    """Change ``user``'s role and end their sessions (``handover.change_role`` also hands on
    what a colleague made a viewer holds, in the same transaction)."""
    if user.id == actor.id and role is not Role.ADMIN:
        raise AccountError("cannot_demote_self")
    previous = user.role
    user.role = role
    end_all_sessions(user)
    event = audit.record(
        "admin.role_changed",
        "user",
        user.id,
        actor=actor,
        detail={"from": previous.value, "to": role.value},
    )
    security_notices.queue_if_made_admin(event, user)
