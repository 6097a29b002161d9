"""The admins' daily digest carries the audit chain's checksum, kept in their mailbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import ReminderOutbox, Role
from intake.services import audit_anchor, reminders
from tests.builders import make_org_key, make_user
from tests.referrals.conftest import sent_referral

SENT = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
MORNING = SENT + timedelta(days=61, hours=-1)


def _digest_for(user_id: int) -> ReminderOutbox:
    return db.session.scalars(
        sa.select(ReminderOutbox).where(
            ReminderOutbox.kind == "digest", ReminderOutbox.recipient_id == user_id
        )
    ).one()


def test_only_admins_digest_names_the_audit_checksum_that_verify_accepts(app: Flask) -> None:
    app.config["DAILY_DIGEST"] = True
    org = make_org_key()
    admin = make_user(Role.ADMIN)
    caseworker = make_user(Role.CASEWORKER)
    sent_referral(sent_at=SENT, owner=admin, org=org, entry_id="ngo-a")
    sent_referral(sent_at=SENT, owner=caseworker, org=org, entry_id="ngo-b")
    reminders.scan(MORNING, enqueue=lambda _id: None)

    _, admin_body = reminders.compose(_digest_for(admin.id))
    _, caseworker_body = reminders.compose(_digest_for(caseworker.id))
    assert "Audit log checksum" not in caseworker_body
    line = next(text for text in admin_body.splitlines() if "Audit log checksum" in text)
    mailed = line.rsplit(" ", 1)[1]
    anchor = audit_anchor.read_anchor()
    assert anchor is not None  # composing the digest moved the anchor
    assert mailed == audit_anchor.checksum(anchor.count, anchor.head)
    assert audit_anchor.matches_checksum(mailed)
    _, in_chinese = reminders.compose(_digest_for(admin.id), "zh_Hant")
    assert "稽核紀錄校驗碼" in in_chinese
