"""Per-account sign-in throttling that slows an attacker down without locking the owner out.

The old rule (five failures lock the account for 15 minutes, never escalating, never lifted)
let anyone who knows a staff address keep that person out with five requests a quarter hour.
Now:

- After ``LOGIN_FREE_FAILURES`` consecutive failures, each further failure makes the account
  wait before the next attempt counts: ``LOGIN_DELAY_BASE_SECONDS`` doubled per failure, capped
  at ``LOGIN_DELAY_MAX_SECONDS``. Attempts during the wait are refused and do not count.
- The wait does not apply on a **trusted device**: a browser that completed a full sign-in to
  this account before carries a signed cookie (intake.auth.devices). A successful sign-in
  clears the count. An admin can also lift it (audited).
- Second-factor guesses are capped per account per 24 hours (``TOTP_DAILY_CAP``), counted from
  the append-only audit log, which nobody signing in can reset; only an admin's lift (itself
  an audit event) starts the count afresh.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, User
from intake.services import audit

TOTP_REASONS = frozenset({"totp", "totp_replay"})
LIFTED = "admin.sign_in_throttle_lifted"
CLEARED = "auth.sign_in_wait_cleared"


def delay_seconds(failures: int) -> int:
    """How long the account waits after its ``failures``-th consecutive failure."""
    config = current_app.config
    free = int(config["LOGIN_FREE_FAILURES"])
    if failures < free:
        return 0
    base = int(config["LOGIN_DELAY_BASE_SECONDS"])
    ceiling = int(config["LOGIN_DELAY_MAX_SECONDS"])
    return int(min(base * 2 ** min(failures - free, 20), ceiling))


def apply_failure(user: User) -> int:
    """Count one failure and set the wait; returns the wait in seconds."""
    user.failed_logins += 1
    delay = delay_seconds(user.failed_logins)
    if delay:
        user.locked_until = utcnow() + timedelta(seconds=delay)
    return delay


def totp_failures_today(user: User) -> int:
    """Wrong or replayed second-factor codes in the last 24 hours, since an admin's lift."""
    since = utcnow() - timedelta(hours=24)
    lifted = db.session.scalar(
        sa.select(sa.func.max(AuditEvent.at)).where(
            AuditEvent.target_type == "user",
            AuditEvent.target_id == str(user.id),
            AuditEvent.action == LIFTED,
        )
    )
    if lifted is not None and lifted > since:
        since = lifted
    details = db.session.scalars(
        sa.select(AuditEvent.detail).where(
            AuditEvent.target_type == "user",
            AuditEvent.target_id == str(user.id),
            AuditEvent.action == "auth.failed",
            AuditEvent.at >= since,
        )
    )
    return sum(1 for detail in details if (detail or {}).get("reason") in TOTP_REASONS)


def totp_capped(user: User) -> bool:
    return totp_failures_today(user) >= int(current_app.config["TOTP_DAILY_CAP"])


def lift(user: User, actor: User) -> None:
    """An admin lifts the wait and restarts the second-factor count (audited)."""
    user.failed_logins = 0
    user.locked_until = None
    audit.record(LIFTED, "user", user.id, actor=actor)
    db.session.commit()


def clear(user: User, how: str) -> None:
    """A right second factor after the right password: the count and the wait end (audited
    when there was a wait), so that failures by someone who only knows the address cannot keep
    the owner out. The daily second-factor cap is not reset: only an admin's lift does that."""
    if user.locked_until is not None and user.locked_until > utcnow():
        audit.record(CLEARED, "user", user.id, actor_label=f"user:{user.email}", detail={"by": how})
    user.failed_logins = 0
    user.locked_until = None
