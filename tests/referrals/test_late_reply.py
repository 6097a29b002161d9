"""A reply after "No reply": governments and organisations answer late (a government's answer to
a UN communication on day 75 of its 60, published in the communications report). A caseworker
who recorded "No reply" when the deadline lapsed records the reply that came after all: the
referral is replied, its deadline stays stopped with no reminder, the reports count a late
reply, and the page says it came after the deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AuditEvent,
    Referral,
    ReferralKind,
    ReferralState,
    ReminderOutbox,
    Role,
    UnStep,
    UnStepKind,
)
from intake.services import referrals, reminders, reports, un_steps
from intake.services.settings import org_zone
from tests.builders import sign_in
from tests.referrals.conftest import sent_referral

NGO = ReferralKind.NGO_REFERRAL
UN = ReferralKind.SP_ALLEGATION_LETTER  # 60 days from the communication to the government


def days_ago(days: int) -> datetime:
    return (utcnow() - timedelta(days=days)).replace(second=0, microsecond=0)


def local(moment: datetime) -> str:
    """As the form's date field sends it: the organisation's time, to the minute."""
    return moment.astimezone(org_zone()).strftime("%Y-%m-%dT%H:%M")


def reminders_of(referral: Referral) -> set[str]:
    return set(
        db.session.scalars(
            sa.select(ReminderOutbox.dedupe_key).where(ReminderOutbox.referral_id == referral.id)
        )
    )


def scan_at(*moments: datetime) -> None:
    for moment in moments:
        reminders.scan(moment, enqueue=lambda _id: None)


def lapsed(kind: ReferralKind, sent_days_ago: int) -> Referral:
    """A referral sent ``sent_days_ago`` days ago (a UN one: its communication the same day),
    overdue and reminded of it, then marked "No reply"."""
    referral = sent_referral(kind, sent_at=days_ago(sent_days_ago))
    assert referral.due_at is not None
    assert referral.due_at < utcnow()
    scan_at(utcnow())
    assert reminders_of(referral)  # it was reminded while it awaited the reply
    if kind == NGO:
        referrals.transition(referral.id, "no_reply", referral.owner, at=days_ago(2))
    else:
        un_steps.record(referral.id, UnStepKind.NO_REPLY, referral.owner, at=days_ago(2))
    db.session.refresh(referral)
    assert referral.state == ReferralState.NO_REPLY
    return referral


def assert_stays_stopped(referral: Referral, due_before: datetime | None, generation: int) -> None:
    """Replied: no new deadline, no new clock generation, and no reminder however many scans,
    now or weeks after its old date."""
    before = reminders_of(referral)
    scan_at(utcnow(), utcnow() + timedelta(days=8), utcnow() + timedelta(days=60))
    db.session.refresh(referral)
    assert referral.state == ReferralState.REPLIED
    assert referral.due_at == due_before
    assert referral.clock_generation == generation
    assert reminders_of(referral) == before


def test_an_organisations_late_reply_is_recorded_after_no_reply(any_app: Flask) -> None:
    referral = lapsed(NGO, sent_days_ago=40)
    assert "reply" in referrals.allowed_actions(referral)
    due, generation = referral.due_at, referral.clock_generation
    referrals.transition(referral.id, "reply", referral.owner, at=days_ago(1))
    assert referral.replied_at == days_ago(1)
    assert_stays_stopped(referral, due, generation)
    events = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "referral.reply")
    ).all()
    assert events == [{"referral": referral.id, "from": "no_reply", "to": "replied"}]
    # Replied now: a second reply, or "No reply" again, is a stale page's.
    for again in ("reply", "no_reply"):
        with pytest.raises(referrals.ReferralError, match="is now “Replied”"):
            referrals.transition(referral.id, again, referral.owner)


def test_a_reply_noticed_late_may_be_dated_before_no_reply_was_recorded_not_before_sending(
    any_app: Flask,
) -> None:
    """It arrived before "No reply" was recorded (noticed late): dated when it arrived, which
    is what the reports count. Never before the referral was sent, nor in the future."""
    referral = lapsed(NGO, sent_days_ago=40)
    sent = referral.sent_at
    assert sent is not None
    with pytest.raises(referrals.ReferralError, match="before the referral was sent"):
        referrals.transition(referral.id, "reply", referral.owner, at=sent - timedelta(hours=1))
    with pytest.raises(referrals.ReferralError, match="future"):
        referrals.transition(referral.id, "reply", referral.owner, at=utcnow() + timedelta(days=1))
    referrals.transition(referral.id, "reply", referral.owner, at=days_ago(20))
    assert referral.state == ReferralState.REPLIED
    assert referral.replied_at == days_ago(20)


def test_a_governments_late_reply_to_a_un_communication_is_recorded_after_no_reply(
    any_app: Flask,
) -> None:
    """Day 75 of 60: recorded as the UN step, the referral replied, its clock stopped."""
    referral = lapsed(UN, sent_days_ago=76)
    steps = un_steps.next_steps(referral)
    assert UnStepKind.REPLY_RECEIVED in steps
    assert UnStepKind.NO_REPLY not in steps
    due, generation = referral.due_at, referral.clock_generation
    un_steps.record(referral.id, UnStepKind.REPLY_RECEIVED, referral.owner, at=days_ago(1))
    assert referral.replied_at == days_ago(1)
    assert_stays_stopped(referral, due, generation)
    kinds = [step.kind for step in un_steps.steps_of(referral)]
    assert kinds[-2:] == [UnStepKind.NO_REPLY, UnStepKind.REPLY_RECEIVED]
    following = un_steps.next_steps(referral)
    assert UnStepKind.REPLY_RECEIVED not in following
    assert UnStepKind.NO_REPLY not in following
    assert UnStepKind.PUBLISHED in following  # the communications report, still to come


def test_the_un_reply_by_the_generic_action_goes_through_its_step(any_app: Flask) -> None:
    referral = lapsed(UN, sent_days_ago=76)
    referrals.transition(referral.id, "reply", referral.owner, at=days_ago(1))
    assert referral.state == ReferralState.REPLIED
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(UnStep)
            .where(UnStep.kind == UnStepKind.REPLY_RECEIVED)
        )
        == 1
    )


def test_a_un_reply_is_not_dated_before_the_communication_but_may_be_before_no_reply(
    any_app: Flask,
) -> None:
    referral = lapsed(UN, sent_days_ago=76)  # submitted and communicated the same day
    with pytest.raises(un_steps.StepRejected, match="cannot be before"):
        un_steps.record(referral.id, UnStepKind.REPLY_RECEIVED, referral.owner, at=days_ago(77))
    # On time after all, noticed after "No reply" was recorded: dated when it came.
    un_steps.record(referral.id, UnStepKind.REPLY_RECEIVED, referral.owner, at=days_ago(20))
    assert referral.state == ReferralState.REPLIED
    assert referral.replied_at is not None
    assert referral.due_at is not None
    assert referral.replied_at < referral.due_at


def test_the_reports_count_a_late_reply_as_replied_and_late(any_app: Flask) -> None:
    referral = lapsed(NGO, sent_days_ago=40)
    referrals.transition(referral.id, "reply", referral.owner, at=days_ago(1))
    zone = org_zone()
    today = utcnow().astimezone(zone).date()
    period = reports.Period(today - timedelta(days=60), today, zone)  # it was sent in it
    figures = reports.referral_figures(period, utcnow())
    assert figures.state == {"replied": 1}
    assert figures.adherence == {"late": 1}


def test_the_page_offers_the_reply_after_no_reply_and_says_it_came_late(web: Flask) -> None:
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    plain = lapsed(NGO, sent_days_ago=40)
    page = client.get(f"/referrals/{plain.id}").get_data(as_text=True)
    assert '<option value="reply">Reply received</option>' in page
    assert "data-reply-late" not in page
    response = client.post(f"/referrals/{plain.id}/transition", data={"action": "reply"})
    assert response.status_code == 302
    page = client.get(f"/referrals/{plain.id}").get_data(as_text=True)
    assert "Replied" in page
    assert "after the deadline" in page.partition("data-reply-late")[2][:40]

    un = lapsed(UN, sent_days_ago=76)
    page = client.get(f"/referrals/{un.id}").get_data(as_text=True)
    assert 'id="step-reply_received"' in page  # its form, offered after "No reply"
    response = client.post(
        f"/referrals/{un.id}/un-step",
        data={"step": "reply_received", "at": local(days_ago(1))},
    )
    assert response.status_code == 303
    page = client.get(f"/referrals/{un.id}").get_data(as_text=True)
    reply = page.partition('data-un-step="reply_received"')[2].partition("</li>")[0]
    assert "After the government's deadline" in reply
    no_reply = page.partition('data-un-step="no_reply"')[2].partition("</li>")[0]
    assert "A reply came after all: see “Government reply received”." in no_reply
    assert 'id="step-reply_received"' not in page
