"""Referrals of a case to a directory entry or UN mechanism, and the reminder outbox."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.db import IDS_NEVER_REUSED, UTCDateTime, partial_index, utcnow
from intake.extensions import db
from intake.models.enums import enum_column


class ReferralKind(enum.StrEnum):
    SP_URGENT_APPEAL = "sp_urgent_appeal"
    SP_ALLEGATION_LETTER = "sp_allegation_letter"
    SP_LEGISLATION = "sp_legislation"
    WGAD_OPINION = "wgad_opinion"
    REPRISALS_REPORT = "reprisals_report"
    NGO_REFERRAL = "ngo_referral"
    EMBASSY_CONTACT = "embassy_contact"
    FOLLOW_UP = "follow_up"


class ReferralState(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    REPLIED = "replied"
    NO_REPLY = "no_reply"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


# States in which a deadline is still running and reminders go out.
AWAITING = (ReferralState.DRAFT, ReferralState.SENT, ReferralState.ACKNOWLEDGED)
# The same, for partial indexes.
AWAITING_SQL = "state IN (" + ", ".join(f"'{state.value}'" for state in AWAITING) + ")"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # The referral stopped waiting (replied, closed, withdrawn) before the mail went out.
    CANCELLED = "cancelled"


class Referral(db.Model):  # type: ignore[name-defined]
    __tablename__ = "referrals"
    __table_args__ = (
        sa.Index("ix_referrals_state_due_at", "state", "due_at"),
        # /referrals: the running referrals in the list's order (NEAREST_DEADLINE_FIRST), so a
        # page is read off the index rather than sorting every open referral (migration 0029).
        partial_index("ix_referrals_awaiting_due", "due_at", "id", where=AWAITING_SQL),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[str] = mapped_column(sa.ForeignKey("directory_entries.id"), index=True)
    kind: Mapped[ReferralKind] = mapped_column(enum_column(ReferralKind))
    state: Mapped[ReferralState] = mapped_column(
        enum_column(ReferralState), default=ReferralState.DRAFT
    )
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # When the rule's clock started (sent, opinion transmitted, case received …) and the
    # deadline it gives; both UTC. ``due_hours`` overrides the rule where it may be longer.
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_hours: Mapped[int | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(sa.String(64))
    # Sealed in the browser to the organisation key, like every free text about a case.
    sealed_note: Mapped[str | None] = mapped_column(sa.Text)
    # Which organisation key the note was sealed to (keys rotate; the browser needs the right one).
    note_org_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_keys.id"))
    consent_override_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # Bumped each time the deadline moves to a new date (a UN step starts a new clock: the
    # mandate's follow-up becomes the government's reply deadline; a date is corrected): the
    # reminders of the new deadline are new items, not duplicates of the old one's "7 days
    # before".
    clock_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    case = relationship("Case")
    entry = relationship("DirectoryEntry")
    owner = relationship("User", foreign_keys=[owner_id])

    @property
    def is_awaiting(self) -> bool:
        """Its state is one of :data:`AWAITING` (its deadline runs): how templates ask, rather
        than naming the states again."""
        return self.state in AWAITING


# How referrals are listed: nearest deadline first, undated ones (drafts) last, then by id.
# PostgreSQL puts NULLs last in ascending order and SQLite is told to; ix_referrals_awaiting_due
# holds the running ones in this order.
NEAREST_DEADLINE_FIRST = (Referral.due_at.asc().nulls_last(), Referral.id.asc())


_UNGATHERED = "kind = 'reminder' AND status = 'pending' AND batch_id IS NULL"
# An e-mail: a batch, a digest, or a reminder mailed alone (before batches, migration 0014).
_AN_EMAIL = "kind <> 'reminder' OR batch_id IS NULL"


class ReminderOutbox(db.Model):  # type: ignore[name-defined]
    """One e-mail to send: the database, not the broker, is the truth (DESIGN §6).

    ``dedupe_key`` is unique: ``reminder:<referral>:<offset>`` or ``digest:<user>:<date>``, so
    any number of scans, concurrent or repeated, write each reminder once.

    Reminder rows are *items*: one per referral and offset, never mailed alone. A scan gathers
    each recipient's pending items under one ``batch`` row (``batch:<user>:<first item>``),
    and the batch is what is claimed, mailed (one e-mail listing its items, Message-ID stable
    per batch) and retried; sending it marks its items sent in the same statement.
    """

    __tablename__ = "reminder_outbox"
    __table_args__ = (
        # What is queued, claimed, retried and counted: e-mails only (migration 0023). A scan
        # writes thousands of batched items, which this index would only slow down.
        partial_index("ix_reminder_outbox_status_queued", "status", "queued_at", where=_AN_EMAIL),
        # What each scan gathers into batches (migration 0019).
        partial_index("ix_reminder_outbox_ungathered", "recipient_id", "id", where=_UNGATHERED),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(96), unique=True)
    # "reminder" | "batch" | "digest" | "follow_up" | "security" (services.security_notices)
    kind: Mapped[str] = mapped_column(sa.String(16))
    referral_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    offset_key: Mapped[str] = mapped_column(sa.String(32))
    # Counts for digests, the due date for reminders: the only facts an e-mail carries.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, int]] = mapped_column(sa.JSON, default=dict)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the mail server first refused or could not be reached for this row; retries go on
    # until REMINDER_RETRY_HOURS after it (intake.services.delivery).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Attempts that handed the whole message over but never heard the final "250" (or whose
    # worker died mid-send): each may have been delivered, so after two the row stops.
    unacknowledged: Mapped[int] = mapped_column(default=0, server_default="0")
    # For a reminder item: the batch (e-mail) that carries it, once a scan has gathered it.
    batch_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("reminder_outbox.id", ondelete="SET NULL"), index=True
    )

    # "reminder" is written into the SQL, not bound: a prepared statement's generic plan must
    # see it too, or it cannot use the indexes that leave items out.
    @classmethod
    def is_item(cls) -> sa.ColumnElement[bool]:
        """A reminder item (which a batch mails, or before batches was mailed alone)."""
        return cls.kind == sa.literal_column("'reminder'")

    @classmethod
    def is_email(cls) -> sa.ColumnElement[bool]:
        """A row that is an e-mail of its own: a batch, a digest, or a reminder mailed alone
        before batches. A query by status must say it wants e-mails to use
        ``ix_reminder_outbox_status_queued``, which holds only them."""
        return sa.or_(~cls.is_item(), cls.batch_id.is_(None))


class UnStepKind(enum.StrEnum):
    """The dated steps of a communication with a UN mechanism (seed 002, DESIGN §5)."""

    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    NOT_ACKNOWLEDGED = "not_acknowledged"
    SECOND_MESSAGE = "second_message"
    FACTS_UPDATE = "facts_update"
    COMMUNICATION_SENT = "communication_sent"
    OPINION_ADOPTED = "opinion_adopted"
    OPINION_TRANSMITTED = "opinion_transmitted"
    REPLY_RECEIVED = "reply_received"
    NO_REPLY = "no_reply"
    PUBLISHED = "published"
    PRESS_RELEASE = "press_release"
    FURTHER_COMMUNICATION = "further_communication"


class CommunicationType(enum.StrEnum):
    URGENT_APPEAL = "urgent_appeal"
    ALLEGATION_LETTER = "allegation_letter"
    OTHER_LETTER = "other_letter"


class UnStep(db.Model):  # type: ignore[name-defined]
    """One dated step of a referral to a UN mechanism. Only routing facts (dates, the channel,
    the type of communication, mandates, a stated deadline) are in the clear. The UN's own
    reference, a link to the published communication and the summary of a government reply
    are sealed in the browser to the organisation key: the UN publishes its communications,
    which name the defender, so a reference or link would tie the case to a named person."""

    __tablename__ = "un_steps"
    __table_args__ = (
        sa.Index("ix_un_steps_referral_happened", "referral_id", "happened_at"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id", ondelete="CASCADE"))
    kind: Mapped[UnStepKind] = mapped_column(enum_column(UnStepKind))
    happened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(sa.String(32))
    communication_type: Mapped[CommunicationType | None] = mapped_column(
        enum_column(CommunicationType)
    )
    # Each sealed with the key it names (migration 0035 sealed those recorded in the clear).
    sealed_reference: Mapped[str | None] = mapped_column(sa.Text)
    reference_org_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_keys.id"))
    joined_mandates: Mapped[str | None] = mapped_column(sa.String(300))
    sealed_link: Mapped[str | None] = mapped_column(sa.Text)
    link_org_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_keys.id"))
    # A draft-law communication may give the government longer than 48 hours.
    due_hours: Mapped[int | None] = mapped_column()
    sealed_summary: Mapped[str | None] = mapped_column(sa.Text)
    summary_org_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_keys.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral = relationship("Referral")
    recorded_by = relationship("User")
