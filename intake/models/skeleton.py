"""What the annual report keeps of a case that retention deleted (issue 12).

Retention deletes closed cases after ``RETENTION_DAYS``; the report for a past year must not
shrink with them. Just before a case is deleted its *reportable skeleton* is written here: the
routing facts and workflow dates the report counts (DESIGN §1.2), and nothing that leads back
to the case or the person — no reference, no receipt lookup, no sealed content, no case id,
no staff member. ``intake.services.reports`` counts these rows together with the live cases.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from intake.db import UTCDateTime, utcnow
from intake.extensions import db
from intake.models.enums import CaseStatus, SealedBy, Urgency, enum_column
from intake.models.referral import ReferralKind, ReferralState

# What a skeleton keeps, by the live model's column names: reports read them from both the
# live rows and the skeletons, retention copies them. One list each.
CASE_SKELETON_COLUMNS = (
    "received_at",
    "urgency",
    "sealed_by",
    "consent_given",
    "status",
    "outcome",
    "country",
    "threats",
    "profiles",
)
REFERRAL_SKELETON_COLUMNS = (
    "entry_id",
    "kind",
    "state",
    "created_at",
    "sent_at",
    "due_at",
    "acknowledged_at",
    "replied_at",
)


class CaseSkeleton(db.Model):  # type: ignore[name-defined]
    __tablename__ = "case_skeletons"
    __table_args__ = (sa.Index("ix_case_skeletons_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency))
    threats: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    profiles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    country: Mapped[str | None] = mapped_column(sa.String(2))
    consent_given: Mapped[bool] = mapped_column(default=False)
    sealed_by: Mapped[SealedBy] = mapped_column(enum_column(SealedBy))
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus))
    outcome: Mapped[str | None] = mapped_column(sa.String(64))
    # When the case's first referral was sent: the report's "days to first referral".
    first_referral_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferralSkeleton(db.Model):  # type: ignore[name-defined]
    __tablename__ = "referral_skeletons"
    __table_args__ = (sa.Index("ix_referral_skeletons_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Not a foreign key: a directory entry may be renamed or retired, the count stays.
    entry_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[ReferralKind] = mapped_column(enum_column(ReferralKind))
    state: Mapped[ReferralState] = mapped_column(enum_column(ReferralState))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
