"""Consent as dated records, one per purpose (DESIGN §5, issue 12).

A record says *for what* (purpose, optionally one directory entry), *who gave it* (a fixed
list), *how it was recorded* (a fixed list) and *when*; withdrawal is dated with its own who
and how. Nothing here names or describes a person: purpose, kinds, dates and ids only
(DESIGN §1.1). A withdrawn record stays, so the history reads as it happened.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from intake.db import IDS_NEVER_REUSED, UTCDateTime, utcnow
from intake.extensions import db
from intake.models.enums import enum_column


class ConsentPurpose(enum.StrEnum):
    SHARE_WITH_ORGANISATION = "share_with_organisation"
    UN_SUBMISSION = "un_submission"
    REPRISALS_REPORT = "reprisals_report"
    PUBLICATION = "publication"


class ConsentGiver(enum.StrEnum):
    """Who gave (or withdrew) the consent."""

    PERSON = "person"  # the defender themselves
    FAMILY = "family"
    LAWYER = "lawyer"
    # Whoever filled in the request form: the form asks who consents, but the answer is sealed.
    SUBMITTER = "submitter"


class ConsentChannel(enum.StrEnum):
    """How the consent (or its withdrawal) reached the organisation."""

    INTAKE_FORM = "intake_form"
    FOLLOW_UP_MESSAGE = "follow_up_message"
    CALL_NOTE = "call_note"  # a caseworker's note of a call
    STATUS_PAGE = "status_page"  # withdrawn by the defender at /status


class ConsentRecord(db.Model):  # type: ignore[name-defined]
    __tablename__ = "consent_records"
    __table_args__ = (
        sa.Index("ix_consent_records_case_purpose", "case_id", "purpose"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    purpose: Mapped[ConsentPurpose] = mapped_column(enum_column(ConsentPurpose))
    # For share_with_organisation: one named directory entry, or None for any organisation.
    entry_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("directory_entries.id", ondelete="SET NULL")
    )
    given_by: Mapped[ConsentGiver] = mapped_column(enum_column(ConsentGiver))
    given_via: Mapped[ConsentChannel] = mapped_column(enum_column(ConsentChannel))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[ConsentGiver | None] = mapped_column(
        enum_column(ConsentGiver, name="withdrawnby")
    )
    withdrawn_via: Mapped[ConsentChannel | None] = mapped_column(
        enum_column(ConsentChannel, name="withdrawnvia")
    )
    withdrawal_recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None
