"""A signed-in staff session, kept on the server so that signing out really ends it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from intake.db import UTCDateTime, utcnow
from intake.extensions import db


class StaffSession(db.Model):  # type: ignore[name-defined]
    """One sign-in. The Flask session cookie carries a random token; only its SHA-256 is here.

    ``tab_key`` (32 random bytes, base64) encrypts the unlocked keyring the browser keeps in
    sessionStorage. It is wiped when the session ends (sign-out, sign-out everywhere, time-out,
    password change or reset, deactivation), so what the browser left on disk can no longer be
    opened.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tab_key: Mapped[str | None] = mapped_column(sa.String(64))
