"""Retention: closed cases go after RETENTION_DAYS, with everything hanging off them."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AuditEvent,
    Case,
    CaseAttachment,
    CaseMessage,
    CaseStatus,
    MessageKind,
    Referral,
    ReminderOutbox,
)
from intake.services import reminders, retention
from tests.builders import make_attachment, make_case, make_org_key
from tests.referrals.conftest import sent_referral
from worker.schedule import beat_schedule


def count(model: type) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_closed_cases_past_retention_are_deleted_with_everything_attached(any_app: Flask) -> None:
    any_app.config["RETENTION_DAYS"] = 365
    any_app.config["DAILY_DIGEST"] = False
    org = make_org_key()
    now = utcnow()
    old = sent_referral(sent_at=now - timedelta(days=55), org=org).case
    make_attachment(old, org)
    db.session.add(
        CaseMessage(case_id=old.id, kind=MessageKind.INTERNAL_NOTE, sealed_body="x" * 80)
    )
    reminders.scan(enqueue=lambda _outbox_id: None)
    assert count(ReminderOutbox) == 2  # the reminder and the e-mail (batch) that carries it
    old.status, old.closed_at = CaseStatus.CLOSED, now - timedelta(days=400)
    recent = make_case(org)
    recent.status, recent.closed_at = CaseStatus.CLOSED, now - timedelta(days=30)
    still_open = make_case(org, received_at=now - timedelta(days=900))
    db.session.commit()
    old_id = old.id

    assert retention.nightly() == {"cases_purged": 1}

    assert set(db.session.scalars(sa.select(Case.id))) == {recent.id, still_open.id}
    assert (count(CaseAttachment), count(CaseMessage), count(Referral)) == (0, 0, 0)
    assert count(ReminderOutbox) == 0
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "case.purged")
    ).one()
    assert (event.target_id, event.actor_label) == (str(old_id), "system")
    assert retention.nightly() == {"cases_purged": 0}


def test_nightly_housekeeping_is_on_the_beat_schedule(app: Flask) -> None:
    schedule = beat_schedule(app.config)
    assert schedule["housekeeping"]["task"] == "housekeeping.nightly"
    assert schedule["deadline-scan"]["task"] == "deadlines.scan"
    assert schedule["session-purge"]["task"] == "sessions.purge"
