"""Server-side records of staff sign-ins (table ``staff_sessions``).

The Flask session is a signed cookie: on its own it stays valid, wherever it is replayed, until
it expires. So each sign-in also gets a row here, found through a random token in the cookie
(only its SHA-256 is stored). A request is signed in only while its row is neither revoked nor
past the idle or absolute time-out; signing out revokes the row, so a copied cookie is useless.

Each row also holds ``tab_key``: 32 random bytes that encrypt the keyring the browser keeps in
sessionStorage (which browsers write to disk for session restore). The key is wiped whenever the
session ends, so what is left on a lost laptop cannot be opened.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import Row

from intake.db import utcnow
from intake.extensions import db
from intake.models import StaffSession, User

TOKEN_BYTES = 32
TAB_KEY_BYTES = 32
# last_seen_at is written at most this often: the idle time-out is counted in minutes.
TOUCH_EVERY = timedelta(seconds=30)
# Revoked rows hold no secret any more; they are deleted after this long.
KEEP_REVOKED = timedelta(days=30)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def idle_limit() -> timedelta:
    return timedelta(minutes=float(current_app.config["SESSION_IDLE_MINUTES"]))


def absolute_limit() -> timedelta:
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    return lifetime if isinstance(lifetime, timedelta) else timedelta(seconds=int(lifetime))


def open_session(user_id: int) -> tuple[str, StaffSession]:
    """A new session row; returns the token for the cookie and the row (flushed, not committed)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    record = StaffSession(
        token_hash=hash_token(token),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        tab_key=base64.b64encode(secrets.token_bytes(TAB_KEY_BYTES)).decode("ascii"),
    )
    db.session.add(record)
    db.session.flush()
    return token, record


def _readable(token: object) -> str | None:
    if not isinstance(token, str) or not token or len(token) > 128:
        return None
    return hash_token(token)


def find(token: object) -> StaffSession | None:
    token_hash = _readable(token)
    if token_hash is None:
        return None
    return db.session.scalar(sa.select(StaffSession).where(StaffSession.token_hash == token_hash))


def find_with_user(
    token: object, *also: sa.ColumnElement[Any]
) -> tuple[StaffSession, User | None, Row[Any]] | None:
    """The session row the token names and its account (None if gone), in one statement:
    every signed-in request asks for both; with ``also``, those columns too (the third item)."""
    token_hash = _readable(token)
    if token_hash is None:
        return None
    found = db.session.execute(
        sa.select(StaffSession, User, *also)
        .outerjoin(User, User.id == StaffSession.user_id)
        .where(StaffSession.token_hash == token_hash)
    ).first()
    return None if found is None else (found[0], found[1], found)


def problem(record: StaffSession, now: datetime | None = None) -> str | None:
    """Why ``record`` no longer signs anyone in ("revoked", "absolute", "idle"), or None."""
    now = now or utcnow()
    if record.revoked_at is not None or record.tab_key is None:
        return "revoked"
    if now - record.created_at > absolute_limit():
        return "absolute"
    if now - record.last_seen_at > idle_limit():
        return "idle"
    return None


def touch(record: StaffSession, now: datetime | None = None) -> bool:
    """Note activity (for the idle time-out); True if the row was written (not committed)."""
    now = now or utcnow()
    if now - record.last_seen_at < TOUCH_EVERY:
        return False
    record.last_seen_at = now
    return True


def revoke(record: StaffSession) -> None:
    """End one session: it signs nobody in any more and its tab key is gone (caller commits)."""
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    record.tab_key = None


def revoke_all(user_id: int, *, but: int | None = None) -> int:
    """End every session of one account (caller commits), except the row ``but`` if given (the
    session that made the change, which goes on); returns how many were ended."""
    result = db.session.execute(
        sa.update(StaffSession)
        .where(
            StaffSession.user_id == user_id,
            StaffSession.revoked_at.is_(None),
            StaffSession.id != but if but is not None else sa.true(),
        )
        .values(revoked_at=utcnow(), tab_key=None)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def new_token(record: StaffSession) -> str:
    """A new token for an open row, as a sign-in gives (caller commits): the cookie changes,
    the row, its id and its tab key stay."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    record.token_hash = hash_token(token)
    return token


def purge_expired() -> None:
    """Wipe the tab keys of sessions past their time-outs, even if their cookie never comes
    back, and forget long-revoked rows (caller commits)."""
    now = utcnow()
    db.session.execute(
        sa.update(StaffSession)
        .where(
            StaffSession.revoked_at.is_(None),
            sa.or_(
                StaffSession.last_seen_at < now - idle_limit(),
                StaffSession.created_at < now - absolute_limit(),
            ),
        )
        .values(revoked_at=now, tab_key=None)
        .execution_options(synchronize_session="fetch")
    )
    db.session.execute(
        sa.delete(StaffSession)
        .where(StaffSession.revoked_at < now - KEEP_REVOKED)
        .execution_options(synchronize_session="fetch")
    )
