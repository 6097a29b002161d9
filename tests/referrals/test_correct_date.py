"""Correcting a recorded date: the deadline and its reminders follow, the order of the steps
holds, every correction is audited, and bad input changes nothing.

A mistyped "sent" date, or a communication to the government dated a month wrong, kept a wrong
deadline for good: the reminders came at the wrong time and the reports counted the wrong
delay. Nothing on the page could mend it.
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
    Referral,
    ReferralKind,
    ReferralState,
    ReminderOutbox,
    Role,
    UnStep,
)
from intake.models import UnStepKind as Step
from intake.services import audit, deadlines, referrals, reminders, un_steps
from tests.builders import sign_in
from tests.referrals.conftest import draft_un_referral, sent_referral

CORRECTED = referrals.DATE_CORRECTED


def days_ago(days: int) -> datetime:
    return (utcnow() - timedelta(days=days)).replace(second=0, microsecond=0)


def local(moment: datetime) -> str:
    """``moment`` as the form's datetime-local field sends it (the tests' zone is UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M")


def outbox_keys(referral: Referral) -> set[str]:
    return set(
        db.session.scalars(
            sa.select(ReminderOutbox.dedupe_key).where(ReminderOutbox.referral_id == referral.id)
        )
    )


def corrections() -> list[dict[str, object]]:
    return list(
        db.session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.action == CORRECTED))
    )


def submitted_and_communicated(submitted: datetime, communicated: datetime) -> Referral:
    referral = draft_un_referral()
    un_steps.record(referral.id, Step.SUBMITTED, referral.owner, at=submitted)
    un_steps.record(
        referral.id,
        Step.COMMUNICATION_SENT,
        referral.owner,
        at=communicated,
        fields=un_steps.StepFields(communication_type="urgent_appeal"),
    )
    return referral


def step_of(referral: Referral, kind: Step) -> UnStep:
    return next(step for step in un_steps.steps_of(referral) if step.kind == kind)


# --- the service --------------------------------------------------------------------------------


def test_a_corrected_communication_date_moves_the_governments_deadline(app: Flask) -> None:
    referral = submitted_and_communicated(days_ago(50), days_ago(10))
    assert referral.due_at == days_ago(10) + timedelta(days=60)
    generation = referral.clock_generation
    right = days_ago(40)  # the letter went out a month earlier than typed
    correction = un_steps.correct(
        referral.id,
        step_of(referral, Step.COMMUNICATION_SENT).id,
        right,
        referral.owner,
    )
    assert correction.moved_deadline
    assert referral.due_at == right + timedelta(days=60) == correction.due_after
    assert referral.clock_started_at == right
    # Its reminders are new ones: "7 days before" the new deadline is not the old one's.
    assert referral.clock_generation == generation + 1
    assert step_of(referral, Step.COMMUNICATION_SENT).happened_at == right
    [event] = corrections()
    assert event["date"] == "communication_sent"
    assert event["from"] == days_ago(10).isoformat(timespec="minutes")
    assert event["to"] == right.isoformat(timespec="minutes")
    assert audit.verify_chain().ok


def test_a_corrected_submission_moves_the_follow_up_clock_and_the_sent_date(app: Flask) -> None:
    referral = draft_un_referral()
    un_steps.record(referral.id, Step.SUBMITTED, referral.owner, at=days_ago(5))
    right = days_ago(25)
    un_steps.correct(referral.id, step_of(referral, Step.SUBMITTED).id, right, referral.owner)
    assert referral.sent_at == right
    assert referral.due_at == right + timedelta(days=30)


def test_a_second_message_keeps_the_follow_up_clock_from_the_latest_contact(app: Flask) -> None:
    referral = draft_un_referral()
    owner = referral.owner
    un_steps.record(referral.id, Step.SUBMITTED, owner, at=days_ago(40))
    un_steps.record(referral.id, Step.SECOND_MESSAGE, owner, at=days_ago(10))
    # The submission corrected to a later day still before the second message: the clock
    # stays the second message's.
    correction = un_steps.correct(
        referral.id,
        step_of(referral, Step.SUBMITTED).id,
        days_ago(20),
        owner,
    )
    assert not correction.moved_deadline
    assert referral.due_at == days_ago(10) + timedelta(days=30)


def test_a_corrected_reply_date_leaves_the_deadline_and_keeps_the_order(app: Flask) -> None:
    referral = submitted_and_communicated(days_ago(50), days_ago(30))
    owner = referral.owner
    un_steps.record(referral.id, Step.REPLY_RECEIVED, owner, at=days_ago(2))
    reply = step_of(referral, Step.REPLY_RECEIVED)
    due = referral.due_at
    correction = un_steps.correct(referral.id, reply.id, days_ago(5), owner)
    assert not correction.moved_deadline
    assert referral.due_at == due
    assert referral.replied_at == days_ago(5)
    # A reply before the communication, a communication after the reply: refused, unchanged.
    with pytest.raises(
        un_steps.StepRejected,
        match=r"before the communication to the government \(\d+ \w+ 20\d\d, \d\d:\d\d",
    ):
        un_steps.correct(referral.id, reply.id, days_ago(40), owner)
    communication = step_of(referral, Step.COMMUNICATION_SENT)
    with pytest.raises(un_steps.StepRejected, match="after a later step"):
        un_steps.correct(referral.id, communication.id, days_ago(1), owner)
    db.session.rollback()
    db.session.expire_all()
    assert step_of(referral, Step.REPLY_RECEIVED).happened_at == days_ago(5)
    assert step_of(referral, Step.COMMUNICATION_SENT).happened_at == days_ago(30)
    assert db.session.get_one(Referral, referral.id).due_at == due
    assert len(corrections()) == 1


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        (lambda: utcnow() + timedelta(days=2), "in the future"),
        (lambda: utcnow() - timedelta(days=900), "before the request was received"),
        (lambda: days_ago(1), "after a later step"),  # the submission after the communication
    ],
)
def test_a_submission_date_out_of_order_is_refused(
    app: Flask, moment: object, message: str
) -> None:
    referral = submitted_and_communicated(days_ago(50), days_ago(30))
    submitted = step_of(referral, Step.SUBMITTED)
    with pytest.raises(un_steps.StepRejected, match=message):
        un_steps.correct(referral.id, submitted.id, moment(), referral.owner)  # type: ignore[operator]
    db.session.rollback()
    assert step_of(referral, Step.SUBMITTED).happened_at == days_ago(50)
    assert corrections() == []


def test_a_step_of_another_referral_is_refused(app: Flask) -> None:
    first = submitted_and_communicated(days_ago(50), days_ago(30))
    other = sent_referral(ReferralKind.SP_URGENT_APPEAL, sent_at=days_ago(30), entry_id="sr-hrd")
    foreign = step_of(other, Step.COMMUNICATION_SENT)
    with pytest.raises(un_steps.StepRejected, match="dates on record"):
        un_steps.correct(first.id, foreign.id, days_ago(20), first.owner)


def test_a_corrected_sent_date_moves_an_organisations_deadline(app: Flask) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(20))
    old_due = referral.due_at
    assert old_due is not None
    right = days_ago(10)  # typed ten days early
    correction = referrals.correct_date(referral.id, "sent", right, referral.owner)
    assert referral.sent_at == right
    assert referral.clock_started_at == right
    assert referral.due_at == old_due + timedelta(days=10) == correction.due_after
    assert referral.clock_generation == 1
    [event] = corrections()
    assert event["date"] == "sent"
    assert event["referral"] == referral.id


def test_a_deadline_moves_by_as_much_as_the_date_not_by_todays_response_time(app: Flask) -> None:
    """The directory's response time changed after the referral was sent: a corrected date
    moves the deadline by the correction only (it was recomputed with today's 3 days, and
    a date moved one day later made the deadline ten days earlier)."""
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(20))
    due = referral.due_at
    assert due is not None
    referral.entry.response_days = 3
    db.session.commit()
    referrals.correct_date(referral.id, "sent", days_ago(19), referral.owner)
    assert referral.due_at == due + timedelta(days=1)


@pytest.mark.parametrize(
    ("kind", "due", "before", "after", "moved"),
    [
        # Days on the calendar, at the same local time across the change to summer time
        # (Berlin, 29 March 2026): 10:00 stays 10:00, so 23 hours of UTC.
        (
            ReferralKind.NGO_REFERRAL,
            datetime(2026, 4, 10, 8, tzinfo=UTC),
            datetime(2026, 3, 27, 9, tzinfo=UTC),
            datetime(2026, 3, 28, 9, tzinfo=UTC),
            datetime(2026, 4, 11, 8, tzinfo=UTC),
        ),
        (
            ReferralKind.NGO_REFERRAL,
            datetime(2026, 4, 3, 8, tzinfo=UTC),
            datetime(2026, 3, 20, 9, tzinfo=UTC),  # 10:00 in winter
            datetime(2026, 3, 29, 8, tzinfo=UTC),  # 10:00 in summer: nine days later
            datetime(2026, 4, 12, 8, tzinfo=UTC),
        ),
        # Hours move by hours, whatever the clocks on the wall do.
        (
            ReferralKind.SP_LEGISLATION,
            datetime(2026, 3, 30, 9, tzinfo=UTC),
            datetime(2026, 3, 28, 9, tzinfo=UTC),
            datetime(2026, 3, 29, 9, tzinfo=UTC),
            datetime(2026, 3, 31, 9, tzinfo=UTC),
        ),
    ],
)
def test_moved_with_keeps_the_period_on_the_organisations_calendar(
    kind: ReferralKind, due: datetime, before: datetime, after: datetime, moved: datetime
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert deadlines.moved_with(kind, due, before, after, berlin) == moved


def test_a_deadline_still_ahead_gets_its_own_reminders_a_past_one_is_not_reminded_again(
    app: Flask,
) -> None:
    """A correction that leaves the referral overdue does not send its overdue reminder again
    at once (it came five minutes after the last one); one that moves the deadline ahead
    gets "7 days before" the new date even if the old date's was sent."""
    late = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(60))  # 46 days overdue
    reminders.scan(now=utcnow(), enqueue=lambda _id: None)
    sent_before = outbox_keys(late)
    assert len(sent_before) == 1
    referrals.correct_date(late.id, "sent", days_ago(59), late.owner)  # still 45 days late
    assert late.clock_generation == 0
    reminders.scan(now=utcnow(), enqueue=lambda _id: None)
    assert outbox_keys(late) == sent_before

    soon = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(8))  # due in 6 days
    reminders.scan(now=utcnow(), enqueue=lambda _id: None)
    assert outbox_keys(soon) == {f"reminder:{soon.id}:d7"}
    referrals.correct_date(soon.id, "sent", days_ago(2), soon.owner)  # due in 12 days
    assert soon.clock_generation == 1
    reminders.scan(now=utcnow() + timedelta(days=6), enqueue=lambda _id: None)
    assert f"reminder:{soon.id}:g1:d7" in outbox_keys(soon)


def test_an_organisations_dates_keep_their_order(app: Flask) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(20))
    owner = referral.owner
    referrals.transition(referral.id, "acknowledge", owner, at=days_ago(10))
    with pytest.raises(referrals.ReferralError, match="after the step after it"):
        referrals.correct_date(referral.id, "sent", days_ago(5), owner)
    db.session.rollback()
    early = days_ago(20) - timedelta(hours=12)  # after the request, before the sending
    with pytest.raises(referrals.ReferralError, match="before the step before it"):
        referrals.correct_date(referral.id, "acknowledged", early, owner)
    db.session.rollback()
    # Not recorded yet, and not one of its dates: nothing to correct.
    for which in ("replied", "closed", "due_at"):
        with pytest.raises(referrals.ReferralError, match="dates on record"):
            referrals.correct_date(referral.id, which, days_ago(5), owner)
        db.session.rollback()
    db.session.expire_all()
    kept = db.session.get_one(Referral, referral.id)
    assert (kept.sent_at, kept.acknowledged_at) == (days_ago(20), days_ago(10))
    assert corrections() == []


def test_a_step_stays_between_its_neighbours_and_before_the_closing(app: Flask) -> None:
    referral = submitted_and_communicated(days_ago(50), days_ago(40))
    owner = referral.owner
    un_steps.record(referral.id, Step.PRESS_RELEASE, owner, at=days_ago(35))
    un_steps.record(referral.id, Step.REPLY_RECEIVED, owner, at=days_ago(20))
    referrals.transition(referral.id, "close", owner, at=days_ago(10), outcome="action_taken")
    moves = [
        (Step.COMMUNICATION_SENT, days_ago(30), "after the step after it"),  # past the release
        (Step.PRESS_RELEASE, days_ago(45), "before the step before it"),  # before the letter
        (Step.REPLY_RECEIVED, days_ago(2), "after the step after it"),  # after the closing
    ]
    for kind, moment, message in moves:
        with pytest.raises(un_steps.StepRejected, match=message):
            un_steps.correct(referral.id, step_of(referral, kind).id, moment, owner)
        db.session.rollback()
    assert corrections() == []
    # Within its neighbours, and so within the closing: accepted.
    un_steps.correct(referral.id, step_of(referral, Step.REPLY_RECEIVED).id, days_ago(12), owner)
    assert referral.replied_at == days_ago(12)


def test_an_acknowledgement_stays_before_the_reply(app: Flask) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(20))
    owner = referral.owner
    referrals.transition(referral.id, "acknowledge", owner, at=days_ago(15))
    referrals.transition(referral.id, "reply", owner, at=days_ago(10))
    with pytest.raises(referrals.ReferralError, match="after the step after it"):
        referrals.correct_date(referral.id, "acknowledged", days_ago(5), owner)
    db.session.rollback()
    with pytest.raises(referrals.ReferralError, match="before the step before it"):
        referrals.correct_date(referral.id, "replied", days_ago(16), owner)
    db.session.rollback()
    assert corrections() == []


def test_a_step_the_clock_does_not_run_from_leaves_the_deadline(app: Flask) -> None:
    """An acknowledgement or a press release never recomputes the deadline, even when the
    follow-up period has changed since the clock started (it would move, and remind again)."""
    referral = draft_un_referral()
    owner = referral.owner
    un_steps.record(referral.id, Step.SUBMITTED, owner, at=days_ago(20))
    due, generation = referral.due_at, referral.clock_generation
    app.config["UN_FOLLOW_UP_DAYS"] = 45
    un_steps.record(referral.id, Step.ACKNOWLEDGED, owner, at=days_ago(15))
    assert (referral.due_at, referral.clock_generation) == (due, generation)
    un_steps.correct(referral.id, step_of(referral, Step.ACKNOWLEDGED).id, days_ago(16), owner)
    assert (referral.due_at, referral.clock_generation) == (due, generation)


def test_a_un_referral_from_before_its_steps_corrects_its_sent_date(web: Flask) -> None:
    """Sent before UN steps were recorded (migration 0018): no step to correct, and its
    deadline was counted from "sent", as the government's (60 days)."""
    referral = draft_un_referral()
    sent = days_ago(30)
    referral.state, referral.sent_at, referral.clock_started_at = ReferralState.SENT, sent, sent
    referral.due_at = sent + timedelta(days=60)
    db.session.commit()
    assert referrals.recorded_dates(referral) == ["sent"]
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert f'<option data-at="{local(sent)}" value="sent">Sent — ' in page
    response = client.post(
        f"/referrals/{referral.id}/correct-date",
        data={"which": "sent", "corrected_at": local(days_ago(20))},
    )
    assert response.status_code == 303
    db.session.expire_all()
    corrected = db.session.get_one(Referral, referral.id)
    assert corrected.sent_at == days_ago(20)
    assert corrected.due_at == days_ago(20) + timedelta(days=60)


def test_a_un_referral_corrects_its_steps_not_its_sent_date(app: Flask) -> None:
    referral = submitted_and_communicated(days_ago(50), days_ago(30))
    assert referrals.recorded_dates(referral) == []
    with pytest.raises(referrals.ReferralError, match="dates on record"):
        referrals.correct_date(referral.id, "sent", days_ago(45), referral.owner)


# --- the page -----------------------------------------------------------------------------------


def test_a_caseworker_corrects_a_date_on_the_referral_page(web: Flask) -> None:
    referral = submitted_and_communicated(days_ago(50), days_ago(10))
    communication = step_of(referral, Step.COMMUNICATION_SENT)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert 'id="correct-date"' in page
    assert f'value="step-{communication.id}"' in page
    assert "Communication sent to the government — " in page  # each choice says its date
    # Nothing chosen first: typing only the new date corrects nothing.
    assert '<option value="">— Choose a date —</option>' in page
    assert page.count("selected", page.index('id="which"'), page.index('id="corrected_at"')) == 0
    refused = client.post(
        f"/referrals/{referral.id}/correct-date",
        data={"which": "", "corrected_at": local(days_ago(40))},
    )
    assert refused.status_code == 422
    assert "Choose one of the dates on record." in refused.get_data(as_text=True)
    response = client.post(
        f"/referrals/{referral.id}/correct-date",
        data={"which": f"step-{communication.id}", "corrected_at": local(days_ago(40))},
    )
    assert response.status_code == 303
    # At the message and the facts, not the form's own anchor (a browser keeps a fragment
    # across a redirect that names none: the page opened at the closed form).
    assert response.headers["Location"].endswith(f"/referrals/{referral.id}#main")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Date corrected. The deadline is now" in page
    db.session.expire_all()
    assert db.session.get_one(Referral, referral.id).due_at == days_ago(40) + timedelta(days=60)


def test_a_viewer_is_not_offered_the_correction(web: Flask) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(3))
    client = web.test_client()
    sign_in(client, Role.VIEWER)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert 'id="correct-date"' not in page
    response = client.post(
        f"/referrals/{referral.id}/correct-date",
        data={"which": "sent", "corrected_at": local(days_ago(13))},
    )
    assert response.status_code == 403
    assert corrections() == []


def test_a_refused_correction_is_said_beside_the_date_in_the_opened_form(web: Flask) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(3))
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    response = client.post(
        f"/referrals/{referral.id}/correct-date",
        data={"which": "sent", "corrected_at": local(utcnow() + timedelta(days=3))},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert '<details class="correct-date" id="correct-date" open>' in page
    assert 'id="correct-at-error"' in page
    assert "The date cannot be in the future." in page
    assert 'aria-invalid="true"' in page
    # The generic form below is not the one that failed: it carries no error.
    assert 'id="at-error"' not in page


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"which": "sent"},
        {"which": "sent", "corrected_at": ""},
        {"which": "sent", "corrected_at": "yesterday"},
        {"which": "sent", "corrected_at": "0001-01-01T00:00"},
        {"which": "sent", "corrected_at": "2026-02-30T10:00"},
        {"which": "sent", "corrected_at": "9" * 5000},
        {"which": "closed", "corrected_at": "2026-01-01T10:00"},
        {"which": "step-1", "corrected_at": "2026-01-01T10:00"},
        {"which": "sent' OR '1'='1", "corrected_at": "2026-01-01T10:00"},
        {"which": "<script>alert(1)</script>", "corrected_at": "<b>x</b>"},
        {"which": "sent", "corrected_at": ["2026-01-01T10:00", "2026-01-02T10:00"]},
    ],
)
def test_hostile_corrections_change_nothing_and_never_fail(
    web: Flask, data: dict[str, object]
) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(3))
    before = (referral.sent_at, referral.due_at, referral.clock_generation)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    response = client.post(f"/referrals/{referral.id}/correct-date", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "<b>x</b>" not in page
    assert "field-error" in page
    db.session.expire_all()
    kept = db.session.get_one(Referral, referral.id)
    assert (kept.sent_at, kept.due_at, kept.clock_generation) == before
    assert corrections() == []


@pytest.mark.parametrize(
    ("lang", "summary", "refusal"),
    [
        ("zh_Hant", "更正日期", "日期不能晚於後一個步驟"),
        ("zh_Hans", "更正日期", "日期不能晚于后一个步骤"),
    ],
)
def test_the_correction_reads_in_the_staff_languages(
    web: Flask, lang: str, summary: str, refusal: str
) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(20))
    referrals.transition(referral.id, "acknowledge", referral.owner, at=days_ago(10))
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/referrals/{referral.id}?lang={lang}").get_data(as_text=True)
    assert f"<summary>{summary}</summary>" in page
    assert "Correct a date" not in page
    assert "Which date" not in page
    response = client.post(
        f"/referrals/{referral.id}/correct-date?lang={lang}",
        data={"which": "sent", "corrected_at": local(days_ago(5))},
    )
    assert response.status_code == 422
    assert refusal in response.get_data(as_text=True)


def test_a_closed_referral_is_not_told_of_a_new_deadline(web: Flask) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(20))
    referrals.transition(referral.id, "reply", referral.owner, at=days_ago(10))
    referrals.transition(
        referral.id, "close", referral.owner, at=days_ago(5), outcome="action_taken"
    )
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    response = client.post(
        f"/referrals/{referral.id}/correct-date",
        data={"which": "sent", "corrected_at": local(days_ago(15))},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Date corrected." in page
    assert "The deadline is now" not in page


def test_a_finished_referrals_deadline_reads_as_was_due(web: Flask) -> None:
    """A replied referral said "Government's reply due 24 Dec" as if it still ran."""
    referral = submitted_and_communicated(days_ago(100), days_ago(90))  # due 30 days ago
    un_steps.record(referral.id, Step.REPLY_RECEIVED, referral.owner, at=days_ago(20))
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    for lang, label in (("en", "Was due"), ("zh_Hant", "原定期限")):
        page = client.get(f"/referrals/{referral.id}?lang={lang}").get_data(as_text=True)
        assert f"<dt data-deadline-label>{label}</dt>" in page
        assert "Government's reply due" not in page
    # Answered before its deadline: not "was due" a date still ahead (a review in Chromium).
    early = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(3))
    referrals.transition(early.id, "reply", early.owner, at=days_ago(1))
    for lang, label in (("en", "Deadline, no longer running"), ("zh_Hant", "原定期限（不再計時）")):
        page = client.get(f"/referrals/{early.id}?lang={lang}").get_data(as_text=True)
        assert f"<dt data-deadline-label>{label}</dt>" in page


def test_the_prefilling_script_is_served_to_those_who_can_correct(web: Flask) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(3))
    for role, served in ((Role.CASEWORKER, True), (Role.VIEWER, False)):
        client = web.test_client()
        sign_in(client, role)
        page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
        assert ("js/correct-date.js" in page) is served


def test_the_reminders_panel_follows_the_deadline(web: Flask) -> None:
    """After a correction moved the deadline ahead, the panel listed only the old deadline's
    reminder and said nothing of the new one's; a replied referral still promised reminders
    (a review in Chromium)."""
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(8))  # due in 6 days
    reminders.scan(now=utcnow(), enqueue=lambda _id: None)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "7 days before" in page
    assert "They go out" not in page  # its reminders are listed, on schedule
    referrals.correct_date(referral.id, "sent", days_ago(2), referral.owner)  # due in 12 days
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "7 days before" in page  # the old deadline's, still listed
    assert "The deadline has moved since these reminders." in page
    assert "They go out" in page
    referrals.transition(referral.id, "reply", referral.owner, at=days_ago(1))
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "They go out" not in page
    assert "No reminders: this referral is not awaiting a reply." not in page  # one is listed
    other = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(2))
    referrals.transition(other.id, "reply", other.owner, at=days_ago(1))
    page = client.get(f"/referrals/{other.id}").get_data(as_text=True)
    assert "No reminders: this referral is not awaiting a reply." in page
    assert "They go out" not in page


def test_the_case_page_names_a_finished_referrals_date_as_history(web: Flask) -> None:
    """The case page listed a replied referral as "Replied · due 4 Feb", the date its own page
    calls "Was due"."""
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(3))
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    running = client.get(f"/cases/{referral.case.ref}").get_data(as_text=True)
    assert "· due " in running
    referrals.transition(referral.id, "reply", referral.owner, at=days_ago(1))
    # Answered before its deadline: "was due" a date still ahead read wrong (a review).
    for lang, words in (("en", ", no longer running"), ("zh_Hant", "（不再計時）")):
        page = client.get(f"/cases/{referral.case.ref}?lang={lang}").get_data(as_text=True)
        assert words in page
        assert "· due " not in page
        assert "was due" not in page
    late = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=days_ago(20))  # due 6 days ago
    referrals.transition(late.id, "reply", late.owner, at=days_ago(1))
    for lang, words in (("en", "· was due "), ("zh_Hant", "· 原定期限 ")):
        page = client.get(f"/cases/{late.case.ref}?lang={lang}").get_data(as_text=True)
        assert words in page
        assert "no longer running" not in page
