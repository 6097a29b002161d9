"""The second step of sign-in done right: TOTP confirmed before it counts, ten one-time
recovery codes, and a correct second factor that lifts the account's sign-in wait.

- A new TOTP secret (setup, invitation, reset) is *pending* until its holder types a current
  code (:func:`confirm_totp`); a pending secret never completes a sign-in.
- Confirmation shows ten recovery codes once. They are kept as keyed hashes (key from
  ``TOTP_KEY``, not in the database); each works once at the second step, audited.
- At the second step, someone who has just given the right password (a known session) and
  then a right second factor is let in even while the account waits after failures, and the
  wait is cleared: an attacker who only knows an address cannot keep the owner out. A wrong
  factor during the wait counts and is refused, and the daily cap on codes still holds.
"""

from __future__ import annotations

import secrets
import time

import pyotp
import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import Passkey, RecoveryCode, Role, User
from intake.models.second_factor import recovery_code_key
from intake.services import accounts, audit, security_notices, sign_in_throttle
from intake.services.accounts import LoginResult, TotpResult
from intake.services.errors import CodedError
from intake.services.transactions import transactional

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: read off paper
RECOVERY_CODE_CHARS = 10  # 10 × 5 bits = 50 bits; typed as xxxxx-xxxxx

MESSAGES = {
    "wrong_code": _l("The code is not correct. Check your authenticator app's clock."),
    "code_replayed": _l("This code was already used. Wait for the next code and enter it."),
    "already_confirmed": _l("This second factor is already confirmed."),
    "no_totp": _l("This account has no authenticator app to confirm."),
    "last_factor": _l(
        "This is your only second factor: add another one before you remove it, or you "
        "could not sign in any more."
    ),
    "replacement_expired": _l(
        "This page to set up a new authenticator app has expired. Start again from your "
        "account page."
    ),
}


class SecondFactorError(CodedError):
    MESSAGES = MESSAGES


# --- what an account has ---------------------------------------------------------------------


def has_confirmed_totp(user: User) -> bool:
    return bool(user.totp_secret) and user.totp_confirmed_at is not None


def passkey_count(user: User) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Passkey).where(Passkey.user_id == user.id)
        )
        or 0
    )


def factor_count(user: User) -> int:
    """Second factors that can sign in: a confirmed TOTP and each passkey. Recovery codes are
    a fallback, not a factor to keep."""
    return int(has_confirmed_totp(user)) + passkey_count(user)


def can_sign_in(user: User) -> bool:
    return factor_count(user) > 0


def enrolment_unfinished(user: User) -> bool:
    """Whether ``user`` set up their account (first admin at /setup, or a colleague through
    the invite link) and left before confirming the new authenticator app: a pending secret,
    nothing to sign in with, and no sign-in ever (every sign-in needs a confirmed factor, so
    this account never had one in use). After the right password such an account may start
    its second factor again (:func:`restart_enrolment`). Not an account that has signed in:
    once its factors are reset, only the reset's link (and the password) sets a new one."""
    return (
        bool(user.password_hash)
        and bool(user.totp_secret)
        and user.totp_confirmed_at is None
        and user.last_login_at is None
        and not can_sign_in(user)
    )


@transactional
def restart_enrolment(user: User) -> None:
    """The holder of an account whose enrolment is unfinished has just given the right
    password: a fresh pending secret (the one shown at set-up stops working), confirmed as at
    set-up. Audited as the invite link's enrolment is."""
    if not enrolment_unfinished(user):
        raise SecondFactorError("already_confirmed", status=409)
    accounts.issue_pending_totp(user)
    audit.record("account.enrolled", "user", user.id, actor=user, detail={"via": "sign_in"})


def ids_without_second_factor() -> set[int]:
    """Accounts with a password but nothing to sign in with at the second step: the new
    authenticator app was never confirmed (or was reset and the link not used yet)."""
    has_passkey = sa.exists().where(Passkey.user_id == User.id)
    return set(
        db.session.scalars(
            sa.select(User.id).where(
                User.password_hash.is_not(None),
                sa.or_(User.totp_secret.is_(None), User.totp_confirmed_at.is_(None)),
                ~has_passkey,
            )
        )
    )


def another_admin_can_reset(user: User) -> bool:
    """Whether an active admin other than ``user`` can sign in and reset their second factor
    (else only the operator's ``users reset-totp`` can)."""
    admins = db.session.scalars(
        sa.select(User).where(
            User.role == Role.ADMIN, User.is_active_account.is_(True), User.id != user.id
        )
    )
    return any(can_sign_in(admin) for admin in admins)


def ensure_not_last_factor(user: User) -> None:
    if factor_count(user) <= 1:
        raise SecondFactorError("last_factor")


# --- recovery codes ------------------------------------------------------------------------------


def normalise_recovery_code(raw: str) -> str | None:
    code = "".join(ch for ch in (raw or "").lower() if ch not in " -\t")
    if len(code) != RECOVERY_CODE_CHARS or any(ch not in _RECOVERY_ALPHABET for ch in code):
        return None
    return code


def looks_like_recovery_code(raw: str) -> bool:
    return normalise_recovery_code(raw) is not None


def _recovery_hash(code: str) -> str:
    return crypto.keyed_digest(code, recovery_code_key())


def _new_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes (the old ones stop working); returns them for showing once."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_CHARS))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(raw)))
    return codes


def recovery_codes_left(user: User) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


@transactional
def regenerate_recovery_codes(user: User) -> list[str]:
    codes = _new_recovery_codes(user)
    audit.record("auth.recovery_codes_regenerated", "user", user.id, actor=user)
    return codes


def _use_recovery_code(user: User, raw: str) -> bool:
    """Spend one unused code, as a compare-and-set: of two requests with the same code only
    one UPDATE finds it unused."""
    code = normalise_recovery_code(raw)
    if code is None:
        return False
    result = db.session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _recovery_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    event = audit.record(
        "auth.recovery_code_used",
        "user",
        user.id,
        actor_label=f"user:{user.email}",
        detail={"left": recovery_codes_left(user)},
    )
    security_notices.queue(event, user)
    return True


# --- TOTP confirmation ---------------------------------------------------------------------------


@transactional
def confirm_totp(user: User, code: str) -> list[str]:
    """The holder typed a current code: the secret counts from now on. Returns the ten
    recovery codes to show once."""
    if not user.totp_secret:
        raise SecondFactorError("no_totp")
    if user.totp_confirmed_at is not None:
        raise SecondFactorError("already_confirmed", status=409)
    outcome = accounts.check_totp(user, code)
    if outcome is TotpResult.REPLAY:
        raise SecondFactorError("code_replayed")
    if outcome is not TotpResult.OK:
        raise SecondFactorError("wrong_code")
    user.totp_confirmed_at = utcnow()
    codes = _new_recovery_codes(user)
    audit.record("auth.totp_confirmed", "user", user.id, actor_label=f"user:{user.email}")
    return codes


# --- the second step of sign-in ------------------------------------------------------------------


def _wait_minutes(user: User, trusted: bool) -> int:
    return 0 if trusted else accounts.lock_minutes_left(user)


def succeeded(user: User, how: str) -> None:
    """A right second factor: clear the account's wait (audited when there was one)."""
    sign_in_throttle.clear(user, how)


def failed(user: User, reason: str, *, trusted: bool) -> tuple[LoginResult | TotpResult, int]:
    accounts.register_failure(user, reason)
    minutes = _wait_minutes(user, trusted)
    if minutes:
        return LoginResult.LOCKED, minutes
    return TotpResult.WRONG, 0


def check_code_step(
    user: User, code: str, *, trusted: bool = False
) -> tuple[LoginResult | TotpResult, int]:
    """A six-digit code or a recovery code at the second step; returns (outcome, minutes to
    wait). The caller completes the sign-in on ``TotpResult.OK``."""
    if sign_in_throttle.totp_capped(user):
        accounts.refused_locked(user, "totp_daily_cap")
        return LoginResult.LOCKED, 24 * 60
    if not user.is_active_account:
        return LoginResult.INACTIVE, 0
    if looks_like_recovery_code(code):
        if _use_recovery_code(user, code):
            succeeded(user, "recovery_code")
            return TotpResult.OK, 0
        return failed(user, "recovery_code", trusted=trusted)
    outcome = accounts.check_totp(user, code) if has_confirmed_totp(user) else TotpResult.WRONG
    if outcome is TotpResult.OK:
        succeeded(user, "totp")
        return outcome, 0
    replay = outcome is TotpResult.REPLAY
    result, minutes = failed(user, "totp_replay" if replay else "totp", trusted=trusted)
    if result is LoginResult.LOCKED:
        return result, minutes
    return outcome, 0


def check_passkey_step(
    user: User, credential: str, challenge: str | None, *, trusted: bool = False
) -> tuple[LoginResult | TotpResult, int]:
    """A passkey's assertion at the second step; same outcomes as :func:`check_code_step`."""
    from intake.services import passkeys  # it builds on this module

    if not user.is_active_account:
        return LoginResult.INACTIVE, 0
    if passkeys.verify_assertion(user, credential, challenge):
        succeeded(user, "passkey")
        return TotpResult.OK, 0
    return failed(user, "passkey", trusted=trusted)


@transactional
def remove_totp(user: User) -> None:
    """Passkeys only from now on (never the last factor)."""
    if not user.totp_secret:
        raise SecondFactorError("no_totp", status=404)
    if has_confirmed_totp(user):
        ensure_not_last_factor(user)
    user.totp_secret = None
    user.totp_confirmed_at = None
    security_notices.queue(audit.record("auth.totp_removed", "user", user.id, actor=user), user)


# --- a new authenticator app for a signed-in holder (a lost or replaced phone) ------------------
#
# The new secret is not stored until a code from it is confirmed: until then it travels only in
# the page that shows it (a signed token, bound to the account and its sign-in epoch, that
# expires), so the old app keeps working if the holder gives up half-way.

REPLACEMENT_SALT = "refuge-totp-replace-v1"
REPLACEMENT_SECONDS = 3600


def _replacement_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=REPLACEMENT_SALT)


def begin_replacement(user: User, proof: str, legacy_password: str | None = None) -> str:
    """The holder proved their password again (re-authentication): a new secret, not yet in
    use, as a token for the confirmation form. Raises ``AccountError("wrong_password")``."""
    accounts.confirm_password(user, proof, legacy_password, reason="totp_replace")
    secret = accounts.new_totp_secret()
    return str(_replacement_serializer().dumps({**accounts.epoch_claim(user), "s": secret}))


def replacement_secret(user: User, token: str) -> str:
    """The new secret a replacement token carries, if it is ``user``'s and still valid."""
    if len(token or "") > 512:
        raise SecondFactorError("replacement_expired")
    try:
        data = _replacement_serializer().loads(token, max_age=REPLACEMENT_SECONDS)
    except (BadSignature, SignatureExpired) as exc:
        raise SecondFactorError("replacement_expired") from exc
    claimed = accounts.user_of_claim(data)
    if claimed is None or claimed.id != user.id or not isinstance(data.get("s"), str):
        raise SecondFactorError("replacement_expired")
    return str(data["s"])


def _matching_step(secret: str, code: str) -> int | None:
    code = "".join((code or "").split())
    if not (code.isascii() and code.isdigit()) or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int(time.time() // accounts.TOTP_PERIOD)
    for step in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.at(step * accounts.TOTP_PERIOD), code):
            return step
    return None


@transactional
def replace_totp(
    user: User, token: str, code: str, *, this_session: int | None = None
) -> list[str] | None:
    """A current code from the new app: it replaces the old one (whose codes stop working) and
    every other session of the account ends (the lost phone may have signed in somewhere);
    ``this_session``, the row of the one that replaced it, goes on with its tab key (nothing
    about the keys changed). Recovery codes left are kept; with none left, ten new ones are
    returned to show once."""
    secret = replacement_secret(user, token)
    step = _matching_step(secret, code)
    if step is None:
        raise SecondFactorError("wrong_code")
    had_totp = has_confirmed_totp(user)
    user.totp_secret = secret
    user.totp_confirmed_at = utcnow()
    # Steps count per account: this code (and the old app's last one) cannot sign in again.
    user.totp_last_step = max(user.totp_last_step, step)
    accounts.end_all_sessions(user, but=this_session)
    codes = None if recovery_codes_left(user) else _new_recovery_codes(user)
    event = audit.record(
        "auth.totp_replaced" if had_totp else "auth.totp_added",
        "user",
        user.id,
        actor=user,
        detail={"new_recovery_codes": codes is not None},
    )
    security_notices.queue(event, user)
    return codes
