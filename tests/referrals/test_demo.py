"""`flask demo --cases N`: realistic sample data sealed to the organisation key."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    Case,
    CaseStatus,
    DirectoryEntry,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    SealedBy,
    UnStepKind,
)
from intake.public.forms import SEALED_FIELDS
from intake.services import consent, referrals, un_steps
from intake.services import directory as directory_service
from tests.builders import make_org_key, make_user


def test_demo_needs_an_organisation_key_first(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "--cases", "3"])
    assert result.exit_code != 0
    assert "No organisation key yet" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_demo_cases_are_sealed_and_deadlines_lie_around_today(app: Flask) -> None:
    org = make_org_key()
    make_user(Role.CASEWORKER)
    directory_service.import_shipped()
    result = app.test_cli_runner().invoke(args=["demo", "--cases", "24"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cases"] == 24
    cases = db.session.scalars(sa.select(Case)).all()
    assert len(cases) == 24
    for case in cases:
        answers = crypto.open_answers(case.sealed_answers, org.secret)
        assert answers["what_happened"]
        assert set(answers) == set(SEALED_FIELDS)  # the intake form's own shape
        assert answers["what_happened"] not in case.sealed_answers
    # Every referral goes to an entry that takes that kind of referral.
    for referral in db.session.scalars(sa.select(Referral)):
        assert referral.kind.value in referral.entry.referral_kinds, referral.entry_id
    now = utcnow()
    dues = [d for d in db.session.scalars(sa.select(Referral.due_at)) if d is not None]
    assert any(d < now for d in dues), "some referrals should be overdue"
    assert any(now <= d <= now + timedelta(days=14) for d in dues), "some due soon"
    assert any(d > now + timedelta(days=14) for d in dues), "some due later"
    # The same seed gives the same mix of situations.
    threats_first = sorted(tuple(c.threats) for c in cases)
    db.session.execute(sa.delete(Referral))
    db.session.execute(sa.delete(Case))
    db.session.commit()
    app.test_cli_runner().invoke(args=["demo", "--cases", "24"])
    assert sorted(tuple(c.threats) for c in db.session.scalars(sa.select(Case))) == threats_first


def test_demo_refuses_nonsense_counts(app: Flask) -> None:
    for value in ("0", "-5", "lots"):
        result = app.test_cli_runner().invoke(args=["demo", "--cases", value])
        assert result.exit_code == 2


def test_demo_cases_carry_the_queue_columns_the_session_hook_would_store(any_app: Flask) -> None:
    from intake.models import queue_state

    app = any_app
    make_org_key()
    make_user(Role.CASEWORKER)
    directory_service.import_shipped()
    assert app.test_cli_runner().invoke(args=["demo", "--cases", "40"]).exit_code == 0
    columns = (Case.id, Case.urgency_rank, Case.first_response_at, Case.next_due, Case.attention_at)
    stored = db.session.execute(sa.select(*columns).order_by(Case.id)).all()
    assert any(row.next_due is not None for row in stored)
    db.session.execute(queue_state.refresh_statement())  # recomputed from the referrals
    assert db.session.execute(sa.select(*columns).order_by(Case.id)).all() == stored
    for case in db.session.scalars(sa.select(Case)):
        assert case.urgency_rank == queue_state.urgency_rank(case.urgency)
        assert case.first_response_at == queue_state.first_response_at(
            case.urgency, case.received_at
        )


def test_demo_rows_read_back_as_the_orm_wrote_them_on_both_databases(any_app: Flask) -> None:
    """PostgreSQL takes the demo's rows by COPY: every column reads back as the ORM's types."""
    from intake.models import CaseStatus, ReferralState
    from intake.services.casework import PUBLIC_STATUS
    from intake.services.triage import Routing, suggestions_for

    org = make_org_key()
    make_user(Role.CASEWORKER)
    directory_service.import_shipped()
    assert any_app.test_cli_runner().invoke(args=["demo", "--cases", "30"]).exit_code == 0
    cases = db.session.scalars(sa.select(Case).order_by(Case.id)).all()
    assert len({case.ref for case in cases}) == len({case.receipt_lookup for case in cases}) == 30
    for case in cases:
        assert crypto.open_answers(case.sealed_answers, org.secret)["what_happened"]
        assert isinstance(case.status, CaseStatus)
        # What the submitter sees follows the case's status, as casework keeps it.
        assert case.shared_status == PUBLIC_STATUS[case.status]
        assert case.shared_status_held is False
        assert case.updated_at is not None
        assert case.closed_at is None
        assert isinstance(case.threats, list)
        routing = Routing(case.urgency, case.threats, case.profiles, case.country, case.languages)
        assert case.triage == suggestions_for(routing)
    referrals = db.session.scalars(sa.select(Referral)).all()
    assert referrals
    assert {referral.state for referral in referrals} <= set(ReferralState)
    assert all(r.created_at is not None for r in referrals)
    # A UN referral sent is on its second clock (the submission's, then the government's).
    from intake.services.un_steps import CLOCK_STEP

    assert all(
        r.clock_generation == (2 if r.kind in CLOCK_STEP and r.state != ReferralState.DRAFT else 0)
        for r in referrals
    )


def demo_cases(app: Flask, count: int) -> list[Case]:
    """``flask demo --cases count`` with a key, a caseworker and the directory; its cases."""
    make_org_key()
    make_user(Role.CASEWORKER)
    directory_service.import_shipped()
    result = app.test_cli_runner().invoke(args=["demo", "--cases", str(count)])
    assert result.exit_code == 0, result.output
    return list(db.session.scalars(sa.select(Case)))


def test_demo_consent_is_recorded_as_the_intake_form_records_it(any_app: Flask) -> None:
    cases = demo_cases(any_app, 40)
    assert any(case.consent_given for case in cases)
    assert any(not case.consent_given for case in cases)
    for case in cases:
        purposes = {record.purpose for record in consent.active_records(case)}
        # The flag says what the records say; a referral needs consent to its purpose.
        assert case.consent_given == (purposes >= set(consent.INTAKE_PURPOSES)), case.ref
        for referral in db.session.scalars(sa.select(Referral).where(Referral.case_id == case.id)):
            assert consent.allows_referral(case, referral.kind, referral.entry_id), case.ref


def test_demo_un_referrals_carry_the_steps_that_start_their_clock(any_app: Flask) -> None:
    """A demo UN referral sent weeks ago had no steps: its page said "nothing recorded yet"
    and its date, 60 days from a communication never recorded, read as a check-in."""
    make_org_key()
    make_user(Role.CASEWORKER)
    directory_service.import_shipped()
    assert any_app.test_cli_runner().invoke(args=["demo", "--cases", "30"]).exit_code == 0
    un_referrals = db.session.scalars(
        sa.select(Referral).where(
            Referral.kind.in_(list(un_steps.CLOCK_STEP)), Referral.state != ReferralState.DRAFT
        )
    ).all()
    assert un_referrals
    for referral in un_referrals:
        steps = un_steps.steps_of(referral)
        kinds = [step.kind for step in steps]
        assert kinds[0] == UnStepKind.SUBMITTED, kinds
        assert un_steps.CLOCK_STEP[referral.kind] in kinds, kinds
        assert un_steps.clock_of(referral, steps) == "reply"
        started = next(s for s in steps if s.kind == un_steps.CLOCK_STEP[referral.kind])
        assert started.happened_at == referral.clock_started_at
        assert referral.sent_at is not None
        assert referral.sent_at <= referral.clock_started_at
        if referral.kind != ReferralKind.WGAD_OPINION:
            assert started.communication_type is not None


def test_demo_cases_read_as_casework_would_leave_them(app: Flask) -> None:
    """The demo made "New" cases with referrals already sent, first referrals sent in the
    minute the request came, and every request sealed on the server (a review of /reports
    with 40 demo cases): each read as wrong on the queue and in the report."""
    cases = demo_cases(app, 40)
    sent = db.session.scalars(sa.select(Referral).where(Referral.sent_at.is_not(None))).all()
    by_case = {case.id: case for case in cases}
    assert sent
    for referral in sent:
        assert by_case[referral.case_id].status is CaseStatus.REFERRED, referral.id
        assert referral.sent_at is not None
        assert referral.sent_at > by_case[referral.case_id].received_at, referral.id
    assert {case.sealed_by for case in cases} == {SealedBy.BROWSER, SealedBy.SERVER}


def test_demo_refuses_to_mix_sample_cases_with_real_requests(any_app: Flask) -> None:
    """A new organisation that tried the README's demo on its real instance had 40 sample
    cases among its requests, assigned to real colleagues, e-mailing them reminders and
    counted in the reports, with nothing to tell them apart (a review)."""
    from tests.builders import make_case

    org = make_org_key()
    make_user(Role.CASEWORKER)
    directory_service.import_shipped()
    runner = any_app.test_cli_runner()
    first = runner.invoke(args=["demo", "--cases", "3"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["remove_before_real_use"] == "flask demo --remove"
    # More samples beside samples are fine; beside a real request, only when asked.
    assert runner.invoke(args=["demo", "--cases", "2"]).exit_code == 0
    make_case(org)
    refused = runner.invoke(args=["demo", "--cases", "2"])
    assert refused.exit_code != 0
    assert "holds 1 real request" in refused.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 6
    assert runner.invoke(args=["demo", "--cases", "2", "--beside-real-cases"]).exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 8


def test_demo_remove_takes_the_sample_cases_and_all_they_left_and_nothing_else(
    any_app: Flask,
) -> None:
    """Everything a sample case made goes: referrals, UN steps, consent, the reminders queued
    and sent for them (they were never anyone's work, so no report keeps them)."""
    from intake.models import AuditEvent, ConsentRecord, ReminderOutbox, SampleCase, UnStep
    from intake.services import reminders
    from tests.builders import make_case

    org = make_org_key()
    make_user(Role.CASEWORKER)
    directory_service.import_shipped()
    real = make_case(org, consent_given=True)
    real_id = real.id
    runner = any_app.test_cli_runner()
    assert runner.invoke(args=["demo", "--cases", "30", "--beside-real-cases"]).exit_code == 0
    reminders.scan(enqueue=lambda _row_id: None)
    about_cases = sa.select(sa.func.count()).where(ReminderOutbox.kind.in_(["reminder", "batch"]))
    assert (db.session.scalar(about_cases) or 0) > 0
    # Some went out already.
    db.session.execute(sa.update(ReminderOutbox).values(status="sent"))
    db.session.commit()

    result = runner.invoke(args=["demo", "--remove"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"removed": 30}
    db.session.expire_all()
    assert db.session.scalars(sa.select(Case.id)).all() == [real_id]
    for model in (Referral, UnStep, SampleCase):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0, model
    assert db.session.scalar(about_cases) == 0  # (a digest names no case: it stays)
    assert {row.case_id for row in db.session.scalars(sa.select(ConsentRecord))} == {real_id}
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "demo.removed")
    ).one()
    assert event.detail == {"count": 30}
    # The real request is now alone: samples may be made again only beside it on purpose.
    assert runner.invoke(args=["demo", "--cases", "1"]).exit_code != 0


def test_demo_remove_says_why_nothing_went_when_the_cases_were_never_recorded(
    app: Flask,
) -> None:
    """Sample cases made before migration 0037 were not recorded: `--remove` cannot tell them
    from real requests and says so, rather than a bare {"removed": 0}."""
    from tests.builders import make_case

    org = make_org_key()
    make_case(org)  # an old sample, or a real request: nothing tells them apart
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--remove"])
    assert result.exit_code == 0, result.output
    said = json.loads(result.output)
    assert said["removed"] == 0
    assert "before migration 0037" in said["note"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
    # An empty instance has nothing to explain.
    db.session.execute(sa.delete(Case))
    db.session.commit()
    assert json.loads(runner.invoke(args=["demo", "--remove"]).output) == {"removed": 0}


def test_demo_deadlines_are_what_a_real_referral_to_the_same_entry_would_get(
    any_app: Flask,
) -> None:
    """The demo asked the deadline rule without the entry's response time or the
    FOLLOW_UP_DAYS setting: a referral to an organisation that answers in 2 days was due
    after 14. It asks what creating a referral asks (referrals.deadline_for)."""
    make_org_key()
    make_user(Role.CASEWORKER)
    directory_service.import_shipped()
    active = sa.select(DirectoryEntry).where(DirectoryEntry.retired_at.is_(None))
    for entry in db.session.scalars(active):
        if ReferralKind.NGO_REFERRAL.value in (entry.referral_kinds or []):
            entry.response_days = 2
    db.session.commit()
    any_app.config["FOLLOW_UP_DAYS"] = 9
    result = any_app.test_cli_runner().invoke(args=["demo", "--cases", "40"])
    assert result.exit_code == 0, result.output
    started = db.session.scalars(
        sa.select(Referral).where(Referral.clock_started_at.is_not(None))
    ).all()
    for referral in started:
        assert referral.clock_started_at is not None
        real = referrals.deadline_for(
            referral.kind, referral.clock_started_at, referral.entry, due_hours=referral.due_hours
        )
        assert referral.due_at == real, (referral.kind, referral.entry_id)
    by_kind = {kind: [r for r in started if r.kind is kind] for kind in ReferralKind}
    assert by_kind[ReferralKind.NGO_REFERRAL]
    assert by_kind[ReferralKind.FOLLOW_UP]
    # Days on the organisation's calendar, in UTC here: whole days.
    assert {time_given(r) for r in by_kind[ReferralKind.NGO_REFERRAL]} == {timedelta(days=2)}
    assert {time_given(r) for r in by_kind[ReferralKind.FOLLOW_UP]} == {timedelta(days=9)}


def time_given(referral: Referral) -> timedelta:
    assert referral.due_at is not None
    assert referral.clock_started_at is not None
    return referral.due_at - referral.clock_started_at
