"""A request for help: routing fields in the clear, everything else sealed (DESIGN §1)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.db import IDS_NEVER_REUSED, UTCDateTime, partial_index, utcnow
from intake.extensions import db
from intake.models.enums import (
    CaseStatus,
    MessageKind,
    SealedBy,
    SharedStatus,
    Urgency,
    enum_column,
)

# How long a new case may wait for its first response, by urgency (services.casework's rule;
# here because the queue stores each case's first-response deadline with the case).
FIRST_RESPONSE = {
    Urgency.IMMEDIATE: timedelta(hours=24),
    Urgency.DAYS: timedelta(days=3),
    Urgency.WEEKS: timedelta(days=14),
    Urgency.NOT_URGENT: timedelta(days=30),
}
URGENCY_ORDER = (Urgency.IMMEDIATE, Urgency.DAYS, Urgency.WEEKS, Urgency.NOT_URGENT)

_OPEN = "status <> 'closed'"


_CLOSED_UNREAD = "status = 'closed' AND unread_follow_up_at IS NOT NULL"


# A case's status in the workflow's order (new, assessing, referred, monitoring, closed), as
# SQL: the queue's Status sort reads a column computed from it by the database (migration 0032).
STATUS_RANK_SQL = (
    "CASE status "
    + " ".join(f"WHEN '{status.value}' THEN {rank}" for rank, status in enumerate(CaseStatus))
    + f" ELSE {len(CaseStatus)} END"
)


def _open_cases_index(name: str, *columns: str) -> sa.Index:
    """An index over open cases only: the open tabs' pages and their bounded counts, which
    then never step over closed cases (the "All" tab reads full indexes in the same orders)."""
    return partial_index(name, *columns, where=_OPEN)


class Case(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cases"
    __table_args__ = (
        sa.Index("ix_cases_status_urgency", "status", "urgency"),
        # The Status sort, in its order (migration 0032).
        sa.Index("ix_cases_status_rank", "status_rank", "received_at", "id"),
        # Newest or oldest first, in the sorts' order (id breaks ties; migration 0031).
        sa.Index("ix_cases_received", "received_at", "id"),
        # The country filter, and the queue sorted by country in its order (migration 0030).
        sa.Index("ix_cases_country_received", "country", "received_at", "id"),
        # The queue's two deadline sorts, in their order: by attention_at, the deadline a
        # caseworker must meet next (a new case's first response included), not next_due.
        _open_cases_index(
            "ix_cases_open_priority", "urgency_rank", "attention_at", "received_at", "id"
        ),
        _open_cases_index("ix_cases_open_deadline", "attention_at", "received_at", "id"),
        _open_cases_index("ix_cases_open_attention", "attention_at"),
        # The same two sorts and "Recently updated" over every case, closed ones included: the
        # "All" tab (migration 0031; it sorted all 100,000 demo cases per page, ~100-260 ms).
        sa.Index("ix_cases_priority", "urgency_rank", "attention_at", "received_at", "id"),
        sa.Index("ix_cases_deadline", "attention_at", "received_at", "id"),
        sa.Index("ix_cases_updated", "updated_at", "id"),
        # "Mine", "unassigned" and the assignee filter, in the queue's order, over open cases.
        _open_cases_index(
            "ix_cases_open_assignee",
            "assignee_id",
            "urgency_rank",
            "attention_at",
            "received_at",
            "id",
        ),
        # Closed cases whose submitter wrote again, unread: few rows, counted on every queue
        # page for its notice (migration 0028); the open ones are in "Action needed".
        partial_index("ix_cases_closed_unread", "id", where=_CLOSED_UNREAD),
        # The tab counts read this index only (PostgreSQL: an index-only scan).
        sa.Index("ix_cases_queue_counts", "status", "assignee_id", "attention_at", "next_due"),
        # "Part of a reference": trigrams on PostgreSQL (SQLite scans, which is fine there).
        sa.Index(
            "ix_cases_ref_trgm",
            "ref",
            postgresql_using="gin",
            postgresql_ops={"ref": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(sa.String(24), unique=True)
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus), default=CaseStatus.NEW)
    shared_status: Mapped[SharedStatus] = mapped_column(
        enum_column(SharedStatus), default=SharedStatus.RECEIVED
    )
    # A caseworker may hold back what the submitter sees (e.g. while a referral is delicate).
    shared_status_held: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Routing fields: the only facts in the clear, and the form says so (DESIGN §1.2).
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency))
    threats: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    profiles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    country: Mapped[str | None] = mapped_column(sa.String(2))  # ix_cases_country_received
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Derived, kept for routing lists and the report: consent to share with an organisation is
    # on record and not withdrawn. Only intake.services.consent writes it (one definition).
    consent_given: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str] = mapped_column(sa.String(10), default="en")

    sealed_by: Mapped[SealedBy] = mapped_column(enum_column(SealedBy))
    org_key_id: Mapped[int] = mapped_column(sa.ForeignKey("org_keys.id"), index=True)
    # Base64 (standard alphabet) of crypto_box_seal(padded JSON answers, org public key).
    sealed_answers: Mapped[str] = mapped_column(sa.Text)

    # HMAC of the receipt code under the server secret: lets /status find the case, and a
    # stolen database alone cannot test guesses offline without the secret.
    receipt_lookup: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The submitter's reply public key, derived from the receipt code in their browser.
    reply_public_key: Mapped[str | None] = mapped_column(sa.String(64))

    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # ~5 KB per case: deferred, so that only the pages that show it read it (not the queue).
    triage: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list, deferred=True)
    outcome: Mapped[str | None] = mapped_column(sa.String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # What the queue sorts and filters on, stored so that its views are index scans. Kept by
    # intake.models.queue_state in the flush that changes the case or its referrals.
    urgency_rank: Mapped[int] = mapped_column(sa.SmallInteger)
    # Computed by the database from ``status`` (STATUS_RANK_SQL): never written by us. A later
    # migration that rebuilds this table on SQLite (a batch "move and copy") must drop this
    # column and its index first and add them back after: the copy cannot write it.
    status_rank: Mapped[int] = mapped_column(
        sa.SmallInteger, sa.Computed(STATUS_RANK_SQL, persisted=True)
    )
    # received_at + FIRST_RESPONSE[urgency]; counts only while the case is new.
    first_response_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The nearest due date of the case's referrals whose clock runs (AWAITING states).
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The earlier of the first response (if new) and next_due: when we must act next.
    attention_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the submitter wrote a follow-up that no caseworker has opened the case since (the
    # first such message): the queue's "New message from the submitter", and the case needs
    # action while it is set. Set with the follow-up (intake.services.follow_ups.mark_unread),
    # cleared when a caseworker or admin opens the case page.
    unread_follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attachments: Mapped[list[CaseAttachment]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseAttachment.id"
    )
    messages: Mapped[list[CaseMessage]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseMessage.id"
    )

    def __repr__(self) -> str:
        return f"<Case {self.ref} {self.status}>"


# The threat filter: `CAST(threats AS JSONB) @> '["detention"]'` (PostgreSQL; SQLite matches the
# stored text). An expression index follows every write of the column by itself.
sa.Index(
    "ix_cases_threats",
    sa.cast(Case.threats, JSONB).label("threats_jsonb"),
    postgresql_using="gin",
    postgresql_ops={"threats_jsonb": "jsonb_path_ops"},
).ddl_if(dialect="postgresql")

# The trigram index needs the extension; Alembic's migration creates it the same way.
sa.event.listen(
    Case.__table__,
    "before_create",
    sa.DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)


class CaseAttachment(db.Model):  # type: ignore[name-defined]
    """One evidence file, sealed whole (file name and type inside the ciphertext)."""

    __tablename__ = "case_attachments"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("case_messages.id", ondelete="CASCADE"), index=True
    )
    sealed_content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    size: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="attachments")


class CaseMessage(db.Model):  # type: ignore[name-defined]
    """A sealed message: submitter follow-up or internal note (to the org key), or a staff
    reply (to the submitter's reply key)."""

    __tablename__ = "case_messages"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[MessageKind] = mapped_column(enum_column(MessageKind))
    sealed_body: Mapped[str] = mapped_column(sa.Text)
    # A submitter's follow-up, sealed a second time to their reply key (derived from the receipt
    # code) so that they can reread it at /status. None for notes, replies and older messages.
    sealed_for_submitter: Mapped[str | None] = mapped_column(sa.Text)
    org_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_keys.id"))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="messages")


class SampleCase(db.Model):  # type: ignore[name-defined]
    """A case ``flask demo`` made: sample data, never anyone's request, so that ``flask demo
    --remove`` takes exactly these away from an instance that then goes into real use."""

    __tablename__ = "sample_cases"

    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
