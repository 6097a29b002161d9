"""The UN's own clock (issue 12): each step's rule, and the steps as a service.

The government's deadline runs from the mandate's communication (or a WGAD opinion's
transmission), never from the submission; before any communication a follow-up clock asks the
caseworker to check with the mandate. The reprisals report covers 1 May - 30 April in the
organisation's time zone and is due 15 April.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AuditEvent,
    DirectoryEntry,
    ReferralKind,
    ReferralState,
    ReminderOutbox,
    Role,
    UnStep,
)
from intake.models import UnStepKind as Step
from intake.services import audit, referrals, reminders, un_steps
from intake.services.deadlines import (
    DeadlineError,
    due_at,
    government_reply_due,
    reprisals_period,
    reprisals_season,
    un_follow_up_due,
)
from intake.services.keys import current_org_key
from tests.builders import give_key, make_case, make_entry, make_org_key, make_user
from tests.referrals.conftest import RECEIVED_BEFORE, sealed_fact

UTC_ZONE = ZoneInfo("UTC")
TAIPEI = ZoneInfo("Asia/Taipei")
MEXICO = ZoneInfo("America/Mexico_City")
BERLIN = ZoneInfo("Europe/Berlin")


# --- Rule table -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ReferralKind.SP_URGENT_APPEAL, ReferralKind.SP_ALLEGATION_LETTER])
def test_government_reply_is_due_60_days_after_the_communication(kind: ReferralKind) -> None:
    communication = datetime(2026, 5, 4, 8, tzinfo=TAIPEI)
    due = government_reply_due(kind, communication, TAIPEI, due_hours=None)
    assert due.astimezone(TAIPEI) == datetime(2026, 7, 3, 8, tzinfo=TAIPEI)


def test_legislation_is_48_hours_or_the_stated_longer_deadline_never_shorter() -> None:
    sent = datetime(2026, 3, 28, 12, tzinfo=BERLIN)  # across Berlin's spring change
    kind = ReferralKind.SP_LEGISLATION
    assert government_reply_due(kind, sent, BERLIN, due_hours=None) - sent == timedelta(hours=48)
    assert government_reply_due(kind, sent, BERLIN, due_hours=240) - sent == timedelta(hours=240)
    assert government_reply_due(kind, sent, BERLIN, due_hours=12) - sent == timedelta(hours=48)


def test_wgad_opinion_is_followed_up_six_months_after_transmission() -> None:
    transmitted = datetime(2026, 8, 31, 9, tzinfo=MEXICO)
    due = government_reply_due(ReferralKind.WGAD_OPINION, transmitted, MEXICO, due_hours=None)
    assert due.astimezone(MEXICO) == datetime(2027, 2, 28, 9, tzinfo=MEXICO)


def test_follow_up_before_any_communication_is_counted_from_the_submission() -> None:
    submitted = datetime(2026, 1, 10, 23, 30, tzinfo=TAIPEI)
    assert un_follow_up_due(submitted, TAIPEI, 30).astimezone(TAIPEI) == datetime(
        2026, 2, 9, 23, 30, tzinfo=TAIPEI
    )
    with pytest.raises(DeadlineError):
        un_follow_up_due(submitted, TAIPEI, 0)


def test_reply_rule_is_only_for_un_kinds() -> None:
    with pytest.raises(DeadlineError):
        government_reply_due(ReferralKind.NGO_REFERRAL, utcnow(), UTC_ZONE, due_hours=None)


@pytest.mark.parametrize("zone", [TAIPEI, MEXICO, UTC_ZONE])
def test_reprisals_period_is_1_may_to_30_april_in_the_organisations_zone(zone: ZoneInfo) -> None:
    start, end = reprisals_period(2027, zone)
    assert start.astimezone(zone) == datetime(2026, 5, 1, tzinfo=zone)
    assert end.astimezone(zone) == datetime(2027, 5, 1, tzinfo=zone)
    # Consecutive reports tile the years: no gap, no overlap.
    assert reprisals_period(2028, zone)[0] == end


def test_reprisals_period_edges_differ_by_zone() -> None:
    # 30 April 2026 20:00 UTC is already 1 May in Taipei (next report), still April in Mexico.
    moment = datetime(2026, 4, 30, 20, tzinfo=UTC)
    taipei_start, taipei_end = reprisals_period(2026, TAIPEI)
    mexico_start, mexico_end = reprisals_period(2026, MEXICO)
    assert not taipei_start <= moment < taipei_end
    assert mexico_start <= moment < mexico_end


@pytest.mark.parametrize(
    ("moment", "zone", "season"),
    [
        (datetime(2027, 2, 28, 17, tzinfo=UTC), TAIPEI, 2027),  # 1 March 01:00 in Taipei
        (datetime(2027, 2, 28, 17, tzinfo=UTC), MEXICO, None),  # 28 Feb 11:00 in Mexico
        (datetime(2027, 4, 16, 3, tzinfo=UTC), MEXICO, 2027),  # 15 April 21:00 in Mexico
        (datetime(2027, 4, 16, 3, tzinfo=UTC), TAIPEI, None),  # 16 April 11:00 in Taipei
        (datetime(2026, 12, 31, 12, tzinfo=UTC), TAIPEI, None),
    ],
)
def test_reprisals_season_runs_from_1_march_to_15_april_local(
    moment: datetime, zone: ZoneInfo, season: int | None
) -> None:
    assert reprisals_season(moment, zone) == season


@pytest.mark.parametrize("zone", [TAIPEI, MEXICO])
def test_reprisals_reminder_is_due_at_the_end_of_15_april_across_the_year_end(
    zone: ZoneInfo,
) -> None:
    # Started in May: the cut-off is next year's 15 April, local end of day.
    due = due_at(ReferralKind.REPRISALS_REPORT, datetime(2026, 5, 2, tzinfo=zone), zone)
    assert due.astimezone(zone) == datetime(2027, 4, 15, 23, 59, 59, tzinfo=zone)
    # On 15 April itself, still this year's.
    due = due_at(ReferralKind.REPRISALS_REPORT, datetime(2027, 4, 15, 22, tzinfo=zone), zone)
    assert due.astimezone(zone).date().isoformat() == "2027-04-15"


# --- Steps as a service -----------------------------------------------------------------------


def _un_referral(kind: ReferralKind = ReferralKind.SP_URGENT_APPEAL) -> referrals.Referral:
    org = make_org_key()
    if db.session.get(DirectoryEntry, "sr-hrd") is None:
        make_entry("sr-hrd")
    owner = give_key(make_user(Role.CASEWORKER), org)
    case = make_case(org, received_at=utcnow() - RECEIVED_BEFORE)
    return referrals.create(case.id, "sr-hrd", kind, owner, owner_id=owner.id)


def test_submission_starts_the_follow_up_clock_not_the_60_days(app: Flask) -> None:
    referral = _un_referral()
    submitted = utcnow() - timedelta(days=40)
    un_steps.record(
        referral.id,
        Step.SUBMITTED,
        referral.owner,
        at=submitted,
        fields=un_steps.StepFields(channel="online_form"),
    )
    assert referral.state == ReferralState.SENT
    assert referral.due_at == submitted + timedelta(days=30)
    # 40 days later the mandate writes to the government: 60 days from *that* date.
    communication = utcnow() - timedelta(days=2)
    key = current_org_key()
    assert key is not None
    reference = sealed_fact("AL CHN 3/2026")
    un_steps.record(
        referral.id,
        Step.COMMUNICATION_SENT,
        referral.owner,
        at=communication,
        fields=un_steps.StepFields(
            communication_type="allegation_letter",
            sealed_reference=reference,
            joined_mandates="SR on human rights defenders, WG on Arbitrary Detention",
            org_key_id=key.id,
        ),
    )
    assert referral.clock_started_at == communication
    assert referral.due_at == communication + timedelta(days=60)
    step = db.session.scalars(sa.select(UnStep).where(UnStep.kind == Step.COMMUNICATION_SENT)).one()
    assert (step.sealed_reference, step.reference_org_key_id) == (reference, key.id)
    events = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "referral.un_step")
    ).all()
    assert [event["step"] for event in events] == ["submitted", "communication_sent"]
    assert events[1]["org_key_id"] == key.id  # which key, never what it sealed
    assert audit.verify_chain().ok


def test_the_generic_send_of_a_un_referral_is_its_submitted_step(app: Flask) -> None:
    referral = _un_referral()
    sent = utcnow() - timedelta(days=1)
    referrals.transition(referral.id, "send", referral.owner, at=sent)
    assert [step.kind for step in un_steps.steps_of(referral)] == [Step.SUBMITTED]
    assert referral.due_at == sent + timedelta(days=30)


def test_a_second_message_restarts_the_follow_up_clock(app: Flask) -> None:
    referral = _un_referral()
    un_steps.record(referral.id, Step.SUBMITTED, referral.owner, at=utcnow() - timedelta(days=35))
    again = utcnow() - timedelta(days=1)
    un_steps.record(referral.id, Step.SECOND_MESSAGE, referral.owner, at=again)
    assert referral.due_at == again + timedelta(days=30)


def test_legislation_communication_with_a_stated_longer_deadline(app: Flask) -> None:
    referral = _un_referral(ReferralKind.SP_LEGISLATION)
    un_steps.record(referral.id, Step.SUBMITTED, referral.owner, at=utcnow() - timedelta(days=9))
    sent = utcnow() - timedelta(days=3)
    fields = un_steps.StepFields(communication_type="other_letter", due_hours=168)
    un_steps.record(referral.id, Step.COMMUNICATION_SENT, referral.owner, at=sent, fields=fields)
    assert referral.due_at == sent + timedelta(hours=168)
    bad = _un_referral(ReferralKind.SP_LEGISLATION)
    un_steps.record(bad.id, Step.SUBMITTED, bad.owner, at=sent)
    too_short = un_steps.StepFields(communication_type="other_letter", due_hours=24)
    with pytest.raises(un_steps.StepRejected, match="48 hours"):
        un_steps.record(bad.id, Step.COMMUNICATION_SENT, bad.owner, fields=too_short)


def test_wgad_opinion_transmitted_gives_six_months(app: Flask) -> None:
    referral = _un_referral(ReferralKind.WGAD_OPINION)
    un_steps.record(referral.id, Step.SUBMITTED, referral.owner, at=utcnow() - timedelta(days=90))
    un_steps.record(
        referral.id, Step.OPINION_ADOPTED, referral.owner, at=utcnow() - timedelta(days=20)
    )
    assert Step.OPINION_ADOPTED not in un_steps.next_steps(referral)
    transmitted = utcnow() - timedelta(days=10)
    un_steps.record(referral.id, Step.OPINION_TRANSMITTED, referral.owner, at=transmitted)
    assert referral.due_at == government_reply_due(
        ReferralKind.WGAD_OPINION, transmitted, UTC_ZONE, due_hours=None
    )
    assert referral.due_at > transmitted + timedelta(days=180)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (un_steps.StepFields(), "type of communication"),
        (un_steps.StepFields(communication_type="telegram"), "type of communication"),
        (
            un_steps.StepFields(communication_type="urgent_appeal", sealed_reference="<script>"),
            "did not arrive encrypted",
        ),
        (
            un_steps.StepFields(
                communication_type="urgent_appeal", sealed_reference="AL CHN 3/2026"
            ),
            "did not arrive encrypted",
        ),
        (
            un_steps.StepFields(communication_type="urgent_appeal", sealed_reference="A" * 5000),
            "too long",
        ),
        (
            un_steps.StepFields(communication_type="urgent_appeal", joined_mandates="<b>x</b>"),
            "mandates",
        ),
        (
            un_steps.StepFields(communication_type="urgent_appeal", sealed_link="x"),
            "link",
        ),
        (un_steps.StepFields(communication_type="urgent_appeal", channel="pigeon"), "how it was"),
    ],
)
def test_hostile_communication_fields_are_refused_and_nothing_is_written(
    app: Flask, fields: un_steps.StepFields, message: str
) -> None:
    referral = _un_referral()
    submitted = utcnow() - timedelta(days=5)
    un_steps.record(referral.id, Step.SUBMITTED, referral.owner, at=submitted)
    with pytest.raises(un_steps.StepRejected, match=message):
        un_steps.record(referral.id, Step.COMMUNICATION_SENT, referral.owner, fields=fields)
    db.session.expire_all()
    assert [step.kind for step in un_steps.steps_of(referral)] == [Step.SUBMITTED]
    assert referral.due_at == submitted + timedelta(days=30)


def test_steps_out_of_order_or_dated_wrongly_are_refused(app: Flask) -> None:
    referral = _un_referral()
    with pytest.raises(un_steps.StepRejected, match="cannot be recorded now"):
        un_steps.record(referral.id, Step.REPLY_RECEIVED, referral.owner)
    # No step before the request came in: nothing written, the referral still a draft.
    received = referral.case.received_at
    with pytest.raises(un_steps.StepRejected, match="before the request was received"):
        un_steps.record(referral.id, Step.SUBMITTED, referral.owner, at=received - timedelta(1))
    assert referral.state == ReferralState.DRAFT
    assert not list(un_steps.steps_of(referral))
    # A form's date has minutes only: the minute the request came in is not before it.
    assert referrals.refused_date(referral, received.replace(second=0, microsecond=0)) is None
    assert referrals.refused_date(referral, received - timedelta(minutes=1)) is not None
    submitted = utcnow() - timedelta(days=5)
    un_steps.record(referral.id, Step.SUBMITTED, referral.owner, at=submitted)
    with pytest.raises(un_steps.StepRejected, match="before the submission"):
        un_steps.record(
            referral.id, Step.SECOND_MESSAGE, referral.owner, at=submitted - timedelta(days=1)
        )
    with pytest.raises(un_steps.StepRejected, match="future"):
        un_steps.record(
            referral.id, Step.SECOND_MESSAGE, referral.owner, at=utcnow() + timedelta(days=1)
        )
    fields = un_steps.StepFields(communication_type="urgent_appeal")
    communication = utcnow() - timedelta(days=2)
    un_steps.record(
        referral.id, Step.COMMUNICATION_SENT, referral.owner, at=communication, fields=fields
    )
    with pytest.raises(un_steps.StepRejected, match="communication to the government"):
        un_steps.record(
            referral.id, Step.NO_REPLY, referral.owner, at=communication - timedelta(hours=1)
        )
    un_steps.record(referral.id, Step.NO_REPLY, referral.owner)
    assert referral.state == ReferralState.NO_REPLY
    with pytest.raises(un_steps.StepRejected, match="https"):
        un_steps.record(referral.id, Step.PUBLISHED, referral.owner)
    un_steps.record(
        referral.id,
        Step.PUBLISHED,
        referral.owner,
        fields=un_steps.StepFields(
            sealed_link=sealed_fact("https://spcommreports.ohchr.org/TMResultsBase/x?gId=1"),
            org_key_id=key.id if (key := current_org_key()) else None,
        ),
    )
    assert Step.PUBLISHED not in un_steps.next_steps(referral)


def test_reminders_of_the_new_clock_are_not_taken_for_the_old_ones(any_app: Flask) -> None:
    referral = _un_referral()
    submitted = utcnow() - timedelta(days=25)
    un_steps.record(referral.id, Step.SUBMITTED, referral.owner, at=submitted)
    reminders.scan(now=utcnow(), enqueue=lambda _id: None)
    first = set(db.session.scalars(sa.select(ReminderOutbox.dedupe_key)))
    assert f"reminder:{referral.id}:d7" in first  # the follow-up clock, 5 days ahead
    # The mandate wrote to the government an hour after the submission: its 60 days give a
    # new "7 days before", which must not be mistaken for the follow-up clock's one.
    un_steps.record(
        referral.id,
        Step.COMMUNICATION_SENT,
        referral.owner,
        at=submitted + timedelta(hours=1),
        fields=un_steps.StepFields(communication_type="urgent_appeal"),
    )
    assert referral.clock_generation == 1
    reminders.scan(now=submitted + timedelta(days=54), enqueue=lambda _id: None)
    keys = set(db.session.scalars(sa.select(ReminderOutbox.dedupe_key)))
    assert f"reminder:{referral.id}:g1:d7" in keys


@pytest.mark.parametrize(
    "mandates",
    [
        "任意拘留问题工作组，强迫或非自愿失踪问题工作组",
        "任意拘留問題工作組；人權捍衛者處境特別報告員",
        "特別報告員（言論自由）、工作組",
    ],
)
def test_mandates_written_in_chinese_with_its_punctuation_are_taken(
    app: Flask, mandates: str
) -> None:
    """A caseworker writing in Chinese was refused at the full-width comma: 以逗号分隔."""
    referral = _un_referral()
    un_steps.record(referral.id, Step.SUBMITTED, referral.owner, at=utcnow() - timedelta(days=5))
    fields = un_steps.StepFields(communication_type="urgent_appeal", joined_mandates=mandates)
    step = un_steps.record(referral.id, Step.COMMUNICATION_SENT, referral.owner, fields=fields)
    assert step.joined_mandates == mandates
