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
    Referral,
    ReminderOutbox,
    UnStep,
)
from intake.services import consent, reminders, retention, search
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
