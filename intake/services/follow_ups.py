"""A submitter's follow-up reaches a caseworker.

A follow-up from /status is stored sealed (:func:`intake.services.submissions.add_follow_up`);
in the same transaction :func:`mark_unread` records on the case that the submitter wrote
and no caseworker has seen it (``Case.unread_follow_up_at``, the first such message's time)
and, for the first unseen message only, writes one e-mail to the outbox: "New message on
case RF-…" with a link, no content (DESIGN §1.4), sent by the reminders' send task, so it is
claimed, retried and marked exactly as they are. While the marker is set the queue shows
"New message from the submitter" and lists the case under "Action needed"; the case page
highlights the messages since then, and opening it (:func:`seen`) clears the marker.

Who is told: the case's assignee while their account is active, else the first active admin
(as :func:`intake.services.reminders.choose_recipient` picks the recipient of a reminder
that no active colleague holds): the message of a defender in danger never goes to nobody.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value

from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseMessage, MessageKind, OutboxStatus, ReminderOutbox, User
from intake.services import audit, casework
from intake.services.transactions import transactional

KIND = "follow_up"  # ReminderOutbox.kind of the notice
# Who clears the marker by opening the case: those who act on cases (a viewer reads only).
ACTING_ROLES = casework.CASE_HOLDER_ROLES


def notice_key(case_id: int, message_id: int) -> str:
    """The notice's ``dedupe_key``: one e-mail per first unseen message of a case."""
    return f"{KIND}:{case_id}:{message_id}"


def recipient_for(assignee_id: int | None) -> int | None:
    """The assignee if their account is active and may act, else the admin reminded of what
    nobody holds (:func:`casework.reminded_admin_id`)."""
    if assignee_id is not None:
        able = db.session.scalar(
            sa.select(User.id).where(
                User.id == assignee_id,
                User.is_active_account.is_(True),
                User.role.in_(ACTING_ROLES),
            )
        )
        if able is not None:
            return int(able)
    return casework.reminded_admin_id()


def assignee_of(case_ref: str) -> int | None:
    """Who holds the case now (a notice's recipient may have left since it was written)."""
    return db.session.scalar(sa.select(Case.assignee_id).where(Case.ref == case_ref))


def mark_unread(case: Case, message_id: int, now: datetime | None = None) -> int | None:
    """In the caller's transaction: the case has an unseen follow-up since ``now`` (or since an
    earlier one still unseen). Returns the id of the notice written to the outbox when this
    message is the first unseen one and someone can be told, else None.

    One UPDATE decides it, so two follow-ups at once write one notice: the second waits for
    the first's row lock (PostgreSQL) and finds the marker set."""
    now = now or utcnow()
    marked = db.session.execute(
        sa.update(Case)
        .where(Case.id == case.id)
        .values(
            unread_follow_up_at=sa.func.coalesce(Case.unread_follow_up_at, now),
            updated_at=now,
        )
        .returning(Case.unread_follow_up_at, Case.assignee_id)
        .execution_options(synchronize_session=False)
    ).one()
    db.session.expire(case, ["unread_follow_up_at", "updated_at"])
    unread_since, assignee_id = marked
    if unread_since != now:
        return None  # an earlier message is still unseen: its notice said so already
    recipient_id = recipient_for(assignee_id)
    if recipient_id is None:
        return None  # no active admin or caseworker at all: the queue still shows it
    return _write_notice(case, message_id, recipient_id, now)


def _write_notice(case: Case, message_id: int, recipient_id: int, now: datetime) -> int | None:
    table = ReminderOutbox.__table__
    insert: Any = (
        postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    statement = (
        insert(table)
        .values(
            dedupe_key=notice_key(case.id, message_id),
            kind=KIND,
            recipient_id=recipient_id,
            # The case's reference, the only fact the e-mail names (a digest keeps its day here).
            offset_key=case.ref,
            counts={},
            status=OutboxStatus.PENDING,
            attempts=0,
            unacknowledged=0,
            created_at=now,
            # Queued by the caller right after the commit; if the broker is down, the scan
            # queues it once REMINDER_REQUEUE_SECONDS have passed (or at once: see enqueue()).
            queued_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.id)
    )
    written = db.session.execute(statement).scalar()
    return int(written) if written is not None else None


def enqueue(message: CaseMessage | None) -> None:
    """After the commit that stored ``message``: queue its notice's send task (ids only), if
    it wrote one. A broker that refuses it leaves the row for the next scan, at once."""
    if message is None:
        return
    outbox_id = db.session.scalar(
        sa.select(ReminderOutbox.id).where(
            ReminderOutbox.dedupe_key == notice_key(message.case_id, message.id),
            ReminderOutbox.status == OutboxStatus.PENDING,
        )
    )
    if outbox_id is None:
        return
    from intake.services import reminders  # (reminders imports much; only the sender needs it)

    try:
        reminders.enqueue_send(outbox_id)
    except Exception:  # kombu raises transport-specific errors
        current_app.logger.warning("broker unreachable; the next scan queues the notice")
        db.session.execute(
            sa.update(ReminderOutbox)
            .where(ReminderOutbox.id == outbox_id, ReminderOutbox.status == OutboxStatus.PENDING)
            .values(queued_at=None)
        )
    db.session.commit()


def message_ids_since(case: Case, since: datetime | None) -> set[int]:
    """The submitter's follow-ups of ``case`` written at or after ``since`` (the marker)."""
    if since is None:
        return set()
    return {
        message.id
        for message in case.messages
        if message.kind == MessageKind.SUBMITTER_FOLLOW_UP and message.created_at >= since
    }


@transactional
def seen(case: Case, viewer: User, part: str = "page") -> datetime | None:
    """Audit a read of the case page (``case.view``) and, when a caseworker or admin opens it,
    clear its unread marker in the same transaction; the event says so (``follow_up_seen``).
    Returns the marker as it was (None when none was set), for the page to highlight the
    messages since then. A viewer's read leaves the marker: they do not act on the case."""
    unread_since = case.unread_follow_up_at
    detail: dict[str, Any] = {"part": part}
    if unread_since is not None and viewer.role in ACTING_ROLES:
        db.session.execute(
            sa.update(Case)
            .where(Case.id == case.id, Case.unread_follow_up_at.is_not(None))
            # Seeing a message is not a change of the case: updated_at stays.
            .values(unread_follow_up_at=None, updated_at=Case.updated_at)
            .execution_options(synchronize_session=False)
        )
        set_committed_value(case, "unread_follow_up_at", None)
        detail["follow_up_seen"] = True
    audit.record("case.view", "case", case.id, actor=viewer, detail=detail)
    return unread_since
