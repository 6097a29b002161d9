"""Operational records: when each background process last proved it is alive."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from intake.db import UTCDateTime, utcnow
from intake.extensions import db


class Heartbeat(db.Model):  # type: ignore[name-defined]
    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[str | None] = mapped_column(sa.String(255))


class OrgSetting(db.Model):  # type: ignore[name-defined]
    """Organisation-wide settings an admin changes at run time (e.g. the time zone)."""

    __tablename__ = "org_settings"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
