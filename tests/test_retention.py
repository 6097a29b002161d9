"""Retention: closed cases go after RETENTION_DAYS, with everything hanging off them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AuditEvent,
    Case,
    CaseAttachment,
    CaseMessage,
    CaseSearchIndex,
    CaseSearchToken,
    CaseStatus,
    ConsentPurpose,
    ConsentRecord,
    MessageKind,
    OutboxStatus,
    Referral,
    ReminderOutbox,
    Role,
    UnStep,
)
from intake.services import accounts, audit, consent, reminders, retention, search
from tests.builders import make_attachment, make_case, make_org_key, make_user, sign_in
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

    assert retention.nightly() == {"cases_purged": 1, "security_notices_purged": 0}

    assert set(db.session.scalars(sa.select(Case.id))) == {recent.id, still_open.id}
    assert (count(CaseAttachment), count(CaseMessage), count(Referral)) == (0, 0, 0)
    assert count(ReminderOutbox) == 0
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "case.purged")
    ).one()
    assert (event.target_id, event.actor_label) == (str(old_id), "system")
    assert retention.nightly() == {"cases_purged": 0, "security_notices_purged": 0}


def test_a_purged_case_leaves_no_row_behind_and_a_new_case_never_takes_its_id(
    any_app: Flask,
) -> None:
    """The security review's finding: on SQLite the purge left consent records, search tokens
    and UN steps behind, and the next request took the purged case's id and inherited them
    (consent it was never given). Nothing may hang off a purged id, and no id comes back."""
    any_app.config["RETENTION_DAYS"] = 365
    org = make_org_key()
    now = utcnow()
    referral = sent_referral(sent_at=now - timedelta(days=500), org=org)  # with its UN step
    old = referral.case  # consent for sharing and UN submission on record
    note = CaseMessage(case_id=old.id, kind=MessageKind.INTERNAL_NOTE, sealed_body="x" * 80)
    db.session.add(note)
    db.session.flush()
    make_attachment(old, org, message_id=note.id)
    search.store_tokens(old, org.key.id, ["ab" * 16], referral.owner, through_message_id=note.id)
    old.status, old.closed_at = CaseStatus.CLOSED, now - timedelta(days=400)
    db.session.commit()
    purged: dict[type[Any], int] = {
        Case: old.id,
        Referral: referral.id,
        CaseMessage: note.id,
        UnStep: max(db.session.scalars(sa.select(UnStep.id))),
        ConsentRecord: max(db.session.scalars(sa.select(ConsentRecord.id))),
    }
    hanging_off = (
        UnStep,
        ConsentRecord,
        CaseSearchToken,
        CaseSearchIndex,
        CaseAttachment,
        CaseMessage,
        Referral,
    )
    assert [model.__name__ for model in hanging_off if not count(model)] == []

    with cascades_off():
        assert retention.purge_closed_cases() == 1

    assert {model.__name__: count(model) for model in hanging_off} == dict.fromkeys(
        (model.__name__ for model in hanging_off), 0
    )
    # A new request without consent, and a new referral with a UN step of its own.
    request = make_case(org, consent_given=False)
    assert request.id > purged[Case]
    assert not consent.has_consent(request, ConsentPurpose.SHARE_WITH_ORGANISATION)
    assert not consent.has_consent(request, ConsentPurpose.UN_SUBMISSION)
    assert count(CaseSearchToken) == count(CaseSearchIndex) == 0
    again = sent_referral(org=org)
    db.session.add(CaseMessage(case_id=request.id, kind=MessageKind.INTERNAL_NOTE, sealed_body="y"))
    db.session.commit()
    for model, purged_id in purged.items():
        assert min(db.session.scalars(sa.select(model.id))) > purged_id, model.__name__
    assert set(db.session.scalars(sa.select(UnStep.referral_id))) == {again.id}


@contextmanager
def cascades_off() -> Iterator[None]:
    """On SQLite, the session's next transaction runs on a connection that does not enforce
    foreign keys (as one that never turned them on): the purge must not lean on the database's
    ON DELETE CASCADE. PostgreSQL always enforces them."""
    if db.engine.dialect.name != "sqlite":
        yield
        return
    driver = db.session.connection().connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")  # no transaction yet: the pragma takes effect
    try:
        yield
    finally:
        db.session.rollback()
        driver.execute("PRAGMA foreign_keys=ON")


def test_nightly_housekeeping_is_on_the_beat_schedule(app: Flask) -> None:
    schedule = beat_schedule(app.config)
    assert schedule["housekeeping"]["task"] == "housekeeping.nightly"
    assert schedule["deadline-scan"]["task"] == "deadlines.scan"
    assert schedule["session-purge"]["task"] == "sessions.purge"


def test_security_notices_go_after_retention_whatever_became_of_them(any_app: Flask) -> None:
    """Security notices are tied to accounts, not cases: each row says who was told, when,
    and of which event, and nothing deleted them (a review). Fails on the code before: the
    nightly run left every one of them."""
    any_app.config["RETENTION_DAYS"] = 365
    any_app.config["DAILY_DIGEST"] = False
    admin = make_user(Role.ADMIN, email="admin@example.org")
    make_user(Role.CASEWORKER, email="holder@example.org")
    now = utcnow()
    ages = {
        OutboxStatus.SENT: 400,
        OutboxStatus.FAILED: 400,
        OutboxStatus.PENDING: 366,
        OutboxStatus.CANCELLED: 900,
        OutboxStatus.SENDING: 400,  # a worker mails it this moment: left for the next night
    }
    notices: dict[int, OutboxStatus] = {}
    for status, days in ages.items():
        accounts.operator_reset_totp("holder@example.org")  # one notice each to holder, admin
        rows = db.session.scalars(
            sa.select(ReminderOutbox).where(ReminderOutbox.id.not_in(list(notices)))
        ).all()
        for row in rows:
            row.status, row.created_at = status, now - timedelta(days=days)
            notices[row.id] = status
    accounts.operator_reset_totp("holder@example.org")  # this year's: kept
    recent = set(db.session.scalars(sa.select(ReminderOutbox.id))) - set(notices)
    digest = ReminderOutbox(
        dedupe_key="digest:1:2020-01-01",
        kind="digest",
        recipient_id=admin.id,
        offset_key="2020-01-01",
        status=OutboxStatus.SENT,
        created_at=now - timedelta(days=2000),
        sent_at=now - timedelta(days=2000),
    )
    db.session.add(digest)
    db.session.commit()
    sending = {row_id for row_id, status in notices.items() if status == OutboxStatus.SENDING}

    assert retention.nightly() == {"cases_purged": 0, "security_notices_purged": 8}

    left = set(db.session.scalars(sa.select(ReminderOutbox.id)))
    assert left == recent | sending | {digest.id}
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "security_notices.purged")
    ).one()
    assert (event.actor_label, event.target_type, event.target_id) == (
        "system",
        "security_notices",
        "*",
    )
    assert event.detail == {"reason": "retention", "notices": 8, "days": 365}
    assert audit.verify_chain().ok
    assert retention.nightly() == {"cases_purged": 0, "security_notices_purged": 0}

    # The audit page says it in words, in the admin's language.
    client = any_app.test_client()
    sign_in(client, admin)
    for lang, words in (
        ("en", "Security notices deleted (retention)"),
        ("zh_Hant", "安全通知已刪除（保存期限屆滿）"),
        ("zh_Hans", "安全通知已删除（保存期限届满）"),
    ):
        html = client.get(f"/admin/audit?lang={lang}").get_data(as_text=True)
        shown = html[html.index(f'<tr data-event="{event.id}">') :]
        assert words in shown[: shown.index("</tr>")], lang
