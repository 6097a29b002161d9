"""Retention: closed cases are deleted after a configurable period (DESIGN §6).

Holding sealed requests longer than needed only adds to what a seizure could take, even
encrypted. Deleting a case removes its attachments, messages, referrals and their reminders
(ON DELETE CASCADE and ORM cascades); the audit log keeps that it happened, by case id only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseStatus, Referral, ReminderOutbox
from intake.services import audit, staff_sessions

BATCH = 500


def purge_closed_cases(now: datetime | None = None) -> int:
    """Delete cases closed more than RETENTION_DAYS ago; returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(days=int(current_app.config["RETENTION_DAYS"]))
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
        referral_ids = sa.select(Referral.id).where(Referral.case_id.in_(ids))
        db.session.execute(
            sa.delete(ReminderOutbox).where(ReminderOutbox.referral_id.in_(referral_ids))
        )
        db.session.execute(sa.delete(Referral).where(Referral.case_id.in_(ids)))
        for case in db.session.scalars(sa.select(Case).where(Case.id.in_(ids))):
            db.session.delete(case)  # ORM cascade: attachments and messages
            audit.record(
                "case.purged", "case", case.id, actor_label="system", detail={"reason": "retention"}
            )
        db.session.commit()
        deleted += len(ids)


def nightly(now: datetime | None = None) -> dict[str, int]:
    """The nightly housekeeping job: retention, and wiping keys of sessions that timed out."""
    purged = purge_closed_cases(now)
    staff_sessions.purge_expired()
    db.session.commit()
    return {"cases_purged": purged}
