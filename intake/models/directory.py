"""The emergency-resource directory: organisations and mechanisms a case can be routed to.

Every list column holds ids from the controlled vocabularies of DESIGN §4 (threats, profiles,
named regions, ISO 3166-1 alpha-2 countries, ISO 639-1 languages), so triage can match them
without parsing free text. ``id`` is a readable slug that stays the same across re-imports
("frontline-defenders", "un-wgad"), which is what referrals point at.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from intake.db import UTCDateTime, utcnow
from intake.extensions import db


class DirectoryEntry(db.Model):  # type: ignore[name-defined]
    __tablename__ = "directory_entries"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    name_zh: Mapped[str | None] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(32), default="organisation")
    section: Mapped[str] = mapped_column(sa.String(32), default="immediate_support")
    regions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    countries: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    threats: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    profiles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    accepts_urgent_appeals: Mapped[bool] = mapped_column(default=False)
    description_en: Mapped[str] = mapped_column(sa.Text, default="")
    description_zh: Mapped[str] = mapped_column(sa.Text, default="")
    # [{"kind": "web"|"phone"|"email"|"secure_form"|"onion", "value": str, "place"?: str}]
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    # [{"id": "domestic_remedies_exhausted"|"states_only"|..., "text": str}]
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    # Referral kinds of DESIGN §5 this entry can receive (sp_urgent_appeal, ngo_referral, …).
    referral_kinds: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    response_days: Mapped[int | None] = mapped_column()
    last_verified: Mapped[date | None] = mapped_column(sa.Date)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def active(self) -> bool:
        return self.retired_at is None

    def condition_ids(self) -> list[str]:
        return [str(c.get("id")) for c in self.conditions or []]

    def __repr__(self) -> str:
        return f"<DirectoryEntry {self.id}>"
