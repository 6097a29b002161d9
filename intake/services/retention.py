"""Retention: closed cases are deleted after a configurable period (DESIGN §6).

Holding sealed requests longer than needed only adds to what a seizure could take, even
encrypted. Deleting a case removes every row that hangs off it — attachments, messages,
consent records, search tokens, referrals with their UN steps and reminders — each by an
explicit DELETE, children first, rather than left to ON DELETE CASCADE: SQLite enforces
foreign keys only on connections that ask (``intake.db``), and a row left behind would
belong to whichever case next took the id. The audit log keeps that it happened, by case id
only.

In the same transaction, before the delete, each case leaves its reportable skeleton
(``intake.models.skeleton``: routing facts and workflow dates, nothing that identifies it),
so the annual report for a past year reads the same after the purge (issue 12). Reminder
e-mails that went out stay counted: sent ones that were mailed alone lose their referral
instead of being deleted; batches never had one.

Submission tokens (``services.submission_tokens``: a request or a follow-up sent again is
stored once) are kept a day, then go with this job too.

Security notices (``services.security_notices``) belong to accounts, not cases: each outbox
row says who was told, when, and of which event, and nothing deleted it. They go after the
same RETENTION_DAYS from when they were written, sent, failed or never sent alike (the audit
log keeps the event itself), in the same nightly run, audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    Case,
    CaseAttachment,
    CaseMessage,
    CaseSearchIndex,
    CaseSearchToken,
    CaseSkeleton,
    CaseStatus,
    ConsentRecord,
    OutboxStatus,
    Referral,
    ReferralSkeleton,
    ReminderOutbox,
    SampleCase,
    UnStep,
)
from intake.models.skeleton import CASE_SKELETON_COLUMNS, REFERRAL_SKELETON_COLUMNS
from intake.services import (
    audit,
    follow_ups,
    security_notices,
    staff_sessions,
    submission_tokens,
)

BATCH = 500


def retention_days() -> int:
    """How many days a closed case is kept (``RETENTION_DAYS``, set by whoever runs Refuge)."""
    return int(current_app.config["RETENTION_DAYS"])


def deleted_after(closed_at: datetime | None) -> datetime | None:
    """The moment after which the nightly job deletes a case closed at ``closed_at`` (None for
    a case not closed): the one rule :func:`purge_closed_cases` applies and pages show."""
    if closed_at is None:
        return None
    return closed_at + timedelta(days=retention_days())


def purge_closed_cases(now: datetime | None = None) -> int:
    """Delete cases closed more than RETENTION_DAYS ago (:func:`deleted_after` is past);
    returns how many."""
    now = now or utcnow()
    # closed_at + N < now, written as closed_at < now - N: the column itself is compared.
    cutoff = now - timedelta(days=retention_days())
    deleted = 0
    while True:
        ids = list(
            db.session.scalars(
                sa.select(Case.id)
                .where(Case.status == CaseStatus.CLOSED, Case.closed_at < cutoff)
                .order_by(Case.id)
                .limit(BATCH)
            )
        )
        if not ids:
            return deleted
        keep_skeletons(ids, now)
        for case_id in ids:
            audit.record(
                "case.purged", "case", case_id, actor_label="system", detail={"reason": "retention"}
            )
        delete_cases(ids)
        db.session.commit()
        deleted += len(ids)


def purge_security_notices(now: datetime | None = None) -> int:
    """Delete the security notices written more than RETENTION_DAYS ago, whatever became of
    them (sent, failed, cancelled, never sent), but not one a worker is sending this moment;
    audited once per batch, by count. Returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days())
    deleted = 0
    while True:
        ids = list(
            db.session.scalars(
                sa.select(ReminderOutbox.id)
                .where(
                    ReminderOutbox.kind == security_notices.KIND,
                    ReminderOutbox.created_at < cutoff,
                    ReminderOutbox.status != OutboxStatus.SENDING,
                )
                .order_by(ReminderOutbox.id)
                .limit(BATCH)
            )
        )
        if not ids:
            return deleted
        audit.record(
            "security_notices.purged",
            "security_notices",
            "*",
            actor_label="system",
            detail={"reason": "retention", "notices": len(ids), "days": retention_days()},
        )
        db.session.execute(
            sa.delete(ReminderOutbox)
            .where(ReminderOutbox.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        deleted += len(ids)


def delete_cases(ids: list[int], *, keep_sent_reminders: bool = True) -> None:
    """Delete these cases and everything that refers to them (the caller audits and commits).
    Reminder e-mails that went out stay counted (``keep_sent_reminders``): a reminder mailed
    alone loses its referral; a batch stays. Without it (sample cases removed: they were never
    anyone's work) they go too."""
    referral_ids = sa.select(Referral.id).where(Referral.case_id.in_(ids))
    if keep_sent_reminders:
        db.session.execute(
            sa.update(ReminderOutbox)
            .where(
                ReminderOutbox.referral_id.in_(referral_ids),
                ReminderOutbox.status == OutboxStatus.SENT,
                ReminderOutbox.batch_id.is_(None),
            )
            .values(referral_id=None)
        )
    db.session.execute(
        sa.delete(ReminderOutbox).where(ReminderOutbox.referral_id.in_(referral_ids))
    )
    _drop_emptied_batches(sent_too=not keep_sent_reminders)
    # A follow-up's notice names its case by reference (intake.services.follow_ups): it
    # goes with the case, sent or not.
    db.session.execute(
        sa.delete(ReminderOutbox)
        .where(
            ReminderOutbox.kind == follow_ups.KIND,
            ReminderOutbox.offset_key.in_(sa.select(Case.ref).where(Case.id.in_(ids))),
        )
        .execution_options(synchronize_session=False)
    )
    _delete_what_hangs_off(ids)
    db.session.execute(sa.delete(Case).where(Case.id.in_(ids)))


def _delete_what_hangs_off(case_ids: list[int]) -> None:
    """Every other row that refers to these cases, each table before the one it refers to
    (the reminders are done by then). Nothing is loaded into Python, sealed content
    included."""
    referral_ids = sa.select(Referral.id).where(Referral.case_id.in_(case_ids))
    for statement in (
        sa.delete(UnStep).where(UnStep.referral_id.in_(referral_ids)),
        sa.delete(Referral).where(Referral.case_id.in_(case_ids)),
        sa.delete(ConsentRecord).where(ConsentRecord.case_id.in_(case_ids)),
        sa.delete(SampleCase).where(SampleCase.case_id.in_(case_ids)),
        sa.delete(CaseSearchToken).where(CaseSearchToken.case_id.in_(case_ids)),
        sa.delete(CaseSearchIndex).where(CaseSearchIndex.case_id.in_(case_ids)),
        # A follow-up's files carry its case too (intake.services.submissions); they go
        # before their message.
        sa.delete(CaseAttachment).where(CaseAttachment.case_id.in_(case_ids)),
        sa.delete(CaseMessage).where(CaseMessage.case_id.in_(case_ids)),
    ):
        db.session.execute(statement.execution_options(synchronize_session=False))


def _drop_emptied_batches(*, sent_too: bool = False) -> None:
    """A reminder e-mail not yet sent whose every item went with its case has nothing to say;
    one that was sent stays, counted in the report (unless ``sent_too``)."""
    item = aliased(ReminderOutbox)
    statuses = [OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.CANCELLED]
    if sent_too:
        statuses = list(OutboxStatus)
    db.session.execute(
        sa.delete(ReminderOutbox)
        .where(
            ReminderOutbox.kind == "batch",
            # (A batch is an e-mail: saying so lets SQLite find them by the status index too.)
            ReminderOutbox.is_email(),
            ReminderOutbox.status.in_(statuses),
            ~sa.select(item.id).where(item.batch_id == ReminderOutbox.id).exists(),
        )
        .execution_options(synchronize_session=False)
    )


def keep_skeletons(case_ids: list[int], now: datetime) -> None:
    """Copy what the reports count of these cases and their referrals, in two INSERT … SELECT
    statements (nothing passes through Python)."""
    first_referral = (
        sa.select(sa.func.min(Referral.sent_at))
        .where(Referral.case_id == Case.id, Referral.sent_at.is_not(None))
        .scalar_subquery()
    )
    db.session.execute(
        sa.insert(CaseSkeleton).from_select(
            [*CASE_SKELETON_COLUMNS, "first_referral_at", "purged_at"],
            sa.select(
                *(getattr(Case, name) for name in CASE_SKELETON_COLUMNS),
                first_referral,
                sa.literal(now, CaseSkeleton.purged_at.type),
            ).where(Case.id.in_(case_ids)),
        )
    )
    db.session.execute(
        sa.insert(ReferralSkeleton).from_select(
            [*REFERRAL_SKELETON_COLUMNS, "purged_at"],
            sa.select(
                *(getattr(Referral, name) for name in REFERRAL_SKELETON_COLUMNS),
                sa.literal(now, ReferralSkeleton.purged_at.type),
            ).where(Referral.case_id.in_(case_ids)),
        )
    )


def nightly(now: datetime | None = None) -> dict[str, int]:
    """The nightly housekeeping job: retention (closed cases, old security notices), wiping
    keys of sessions that timed out, and forgetting submission tokens older than a day (a
    retry comes within minutes, not days)."""
    purged = purge_closed_cases(now)
    notices = purge_security_notices(now)
    staff_sessions.purge_expired()
    submission_tokens.purge_expired(now)
    db.session.commit()
    return {"cases_purged": purged, "security_notices_purged": notices}
