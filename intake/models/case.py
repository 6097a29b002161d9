"""A request for help: routing fields in the clear, everything else sealed (DESIGN §1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.db import UTCDateTime, utcnow
from intake.extensions import db
from intake.models.enums import (
    CaseStatus,
    MessageKind,
    SealedBy,
    SharedStatus,
    Urgency,
    enum_column,
)


class Case(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cases"
    __table_args__ = (
        sa.Index("ix_cases_status_urgency", "status", "urgency"),
        sa.Index("ix_cases_received_at", "received_at"),
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
    country: Mapped[str | None] = mapped_column(sa.String(2), index=True)
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
    triage: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    outcome: Mapped[str | None] = mapped_column(sa.String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attachments: Mapped[list[CaseAttachment]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseAttachment.id"
    )
    messages: Mapped[list[CaseMessage]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseMessage.id"
    )

    def __repr__(self) -> str:
        return f"<Case {self.ref} {self.status}>"


class CaseAttachment(db.Model):  # type: ignore[name-defined]
    """One evidence file, sealed whole (file name and type inside the ciphertext)."""

    __tablename__ = "case_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("case_messages.id", ondelete="CASCADE")
    )
    sealed_content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    size: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="attachments")


class CaseMessage(db.Model):  # type: ignore[name-defined]
    """A sealed message: submitter follow-up or internal note (to the org key), or a staff
    reply (to the submitter's reply key)."""

    __tablename__ = "case_messages"

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
