"""Controlled states stored as strings (portable across SQLite and PostgreSQL)."""

from __future__ import annotations

import enum

import sqlalchemy as sa


class Role(enum.StrEnum):
    ADMIN = "admin"
    CASEWORKER = "caseworker"
    VIEWER = "viewer"


class CaseStatus(enum.StrEnum):
    NEW = "new"
    ASSESSING = "assessing"
    REFERRED = "referred"
    MONITORING = "monitoring"
    CLOSED = "closed"


class CaseOutcome(enum.StrEnum):
    """Why a case was closed."""

    RESOLVED = "resolved"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    SUPPORT_PROVIDED = "support_provided"
    OUT_OF_SCOPE = "out_of_scope"
    NO_CONTACT = "no_contact"
    WITHDRAWN = "withdrawn"
    DUPLICATE = "duplicate"


class ReferralOutcome(enum.StrEnum):
    """What came of a referral when it was closed."""

    ACTION_TAKEN = "action_taken"
    PARTIALLY_RESOLVED = "partially_resolved"
    NO_ACTION = "no_action"
    DECLINED = "declined"
    NOT_APPLICABLE = "not_applicable"


class SharedStatus(enum.StrEnum):
    """What the submitter sees at /status: derived from the case's status
    (``casework.PUBLIC_STATUS``) unless a caseworker holds it back."""

    RECEIVED = "received"
    ASSESSING = "assessing"
    REFERRED = "referred"  # "help being arranged"
    WAITING = "waiting"  # "waiting for others"
    CLOSED = "closed"


class Urgency(enum.StrEnum):
    IMMEDIATE = "immediate"
    DAYS = "days"
    WEEKS = "weeks"
    NOT_URGENT = "not_urgent"


class SealedBy(enum.StrEnum):
    BROWSER = "browser"
    SERVER = "server"


class MessageKind(enum.StrEnum):
    SUBMITTER_FOLLOW_UP = "submitter_follow_up"
    STAFF_REPLY = "staff_reply"
    INTERNAL_NOTE = "internal_note"


def enum_column(enum_cls: type[enum.StrEnum], length: int = 32, name: str | None = None) -> sa.Enum:
    """A non-native enum that stores the values (not the member names) with a CHECK.

    ``name`` names the CHECK when one table has two columns of the same enum."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
        name=name or enum_cls.__name__.lower(),
    )
