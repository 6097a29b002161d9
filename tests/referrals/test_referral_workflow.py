"""Referral workflow: consent gate with audited admin override, transitions, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AuditEvent,
    Case,
    CaseStatus,
    DirectoryEntry,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
)
from intake.services import audit, casework, referrals
from tests.builders import make_case, make_entry, make_org_key, make_user
from tests.referrals.conftest import sent_referral


def test_referral_without_consent_is_refused_for_caseworkers(app: Flask) -> None:
    org = make_org_key()
    make_entry()
    case = make_case(org, consent_given=False)
    caseworker = make_user(Role.CASEWORKER)
    with pytest.raises(referrals.ConsentRequired):
        referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, caseworker)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == 0


def test_admin_override_needs_a_reason_and_is_audited(app: Flask) -> None:
    org = make_org_key()
    make_entry()
    case = make_case(org, consent_given=False)
    admin = make_user(Role.ADMIN)
    with pytest.raises(referrals.ConsentRequired, match="reason"):
        referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, admin)
    referral = referrals.create(
        case.id,
        "test-ngo",
        ReferralKind.NGO_REFERRAL,
        admin,
        consent_override_reason="detained_cannot_be_asked",
    )
    assert referral.consent_override_reason
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["referral.create", "referral.consent_override"]
    assert audit.verify_chain().ok


def test_sending_starts_the_clock_and_marks_the_case_referred(app: Flask) -> None:
    sent_at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    referral = sent_referral(ReferralKind.SP_URGENT_APPEAL, sent_at=sent_at)
    assert referral.clock_started_at == sent_at
    assert referral.due_at == sent_at + timedelta(days=60)
    assert referral.case.status == CaseStatus.REFERRED


def test_a_status_change_made_by_a_referral_is_audited_as_a_case_status_event(app: Flask) -> None:
    referral = sent_referral()
    events = db.session.execute(
        sa.select(AuditEvent.action, AuditEvent.detail)
        .where(AuditEvent.action == "case.status", AuditEvent.target_id == str(referral.case_id))
        .order_by(AuditEvent.id)
    ).all()
    # One table for every change: a new case goes through assessing, each step audited.
    assert [(detail["from"], detail["to"]) for _action, detail in events] == [
        ("new", "assessing"),
        ("assessing", "referred"),
    ]
    assert all(detail["outcome"] is None for _action, detail in events)
    assert audit.verify_chain().ok


def test_a_referral_sent_later_leaves_a_monitored_case_as_it_is(app: Flask) -> None:
    first = sent_referral()
    case = first.case
    casework.change_status(case, CaseStatus.MONITORING, first.owner)
    make_entry("other-ngo")  # the first still awaits a reply: a second goes elsewhere
    second = referrals.create(case.id, "other-ngo", ReferralKind.NGO_REFERRAL, first.owner)
    referrals.transition(second.id, "send", first.owner)
    assert case.status == CaseStatus.MONITORING
    changes = db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.status")
    )
    assert changes == 3  # new -> assessing -> referred -> monitoring; the second send adds none


def test_a_refused_send_changes_neither_the_referral_nor_the_case(app: Flask) -> None:
    org = make_org_key()
    make_entry()
    user = make_user()
    case = make_case(org)
    referral = referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, user)
    with pytest.raises(referrals.ReferralError, match="future"):
        referrals.transition(referral.id, "send", user, at=utcnow() + timedelta(days=1))
    db.session.expire_all()
    assert db.session.get_one(Referral, referral.id).state == ReferralState.DRAFT
    assert db.session.get_one(Case, case.id).status == CaseStatus.NEW


def test_embassy_contact_clock_starts_when_the_case_arrived(app: Flask) -> None:
    org = make_org_key()
    make_entry()
    received = utcnow() - timedelta(hours=5)
    case = make_case(org, received_at=received)
    user = make_user()
    referral = referrals.create(case.id, "test-ngo", ReferralKind.EMBASSY_CONTACT, user)
    assert referral.state == ReferralState.DRAFT
    assert referral.due_at == received + timedelta(hours=24)


def test_ngo_referral_due_date_uses_the_entrys_response_time(app: Flask) -> None:
    make_entry("fast-ngo", response_days=3)
    sent_at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=sent_at, entry_id="fast-ngo")
    assert referral.due_at == sent_at + timedelta(days=3)


def test_full_workflow_and_invalid_transitions(app: Flask) -> None:
    referral = sent_referral()
    user = referral.owner
    with pytest.raises(referrals.ReferralError):
        referrals.transition(referral.id, "close", user, outcome="action_taken")
    referrals.transition(referral.id, "acknowledge", user)
    referrals.transition(referral.id, "reply", user)
    with pytest.raises(referrals.ReferralError, match="outcome"):
        referrals.transition(referral.id, "close", user, outcome="<script>")
    closed = referrals.transition(referral.id, "close", user, outcome="action_taken")
    assert closed.state == ReferralState.CLOSED
    assert closed.closed_at is not None
    with pytest.raises(referrals.ReferralError):
        referrals.transition(referral.id, "withdraw", user)
    with pytest.raises(referrals.ReferralError, match="Unknown"):
        referrals.transition(referral.id, "explode", user)


def test_future_dates_and_unknown_things_are_refused(app: Flask) -> None:
    org = make_org_key()
    make_entry()
    case = make_case(org)
    user = make_user()
    with pytest.raises(referrals.ReferralError):
        referrals.create(case.id, "no-such-entry", ReferralKind.NGO_REFERRAL, user)
    with pytest.raises(referrals.ReferralError):
        referrals.create(999_999, "test-ngo", ReferralKind.NGO_REFERRAL, user)
    viewer = make_user(Role.VIEWER)
    with pytest.raises(referrals.ReferralError, match="owner"):
        referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, user, owner_id=viewer.id)
    referral = referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, user)
    with pytest.raises(referrals.ReferralError, match="future"):
        referrals.transition(referral.id, "send", user, at=utcnow() + timedelta(days=2))
    assert db.session.get_one(Referral, referral.id).state == ReferralState.DRAFT


def test_next_best_suggests_an_untried_triage_entry(app: Flask) -> None:
    referral = sent_referral()
    make_entry("other-ngo", name="Other")
    referral.case.triage = [
        {"id": "test-ngo", "name": "Entry test-ngo", "score": 9, "reasons": [], "caveats": []},
        {"id": "other-ngo", "name": "Other", "score": 5, "reasons": ["x"], "caveats": []},
    ]
    db.session.commit()
    suggestion = referrals.next_best(referral)
    assert suggestion is not None
    assert suggestion["id"] == "other-ngo"


def test_next_best_passes_over_entries_retired_since_or_taking_no_cases(app: Flask) -> None:
    """Triage against the directory as it is now: an entry retired since the case came, one
    that takes no individual case (an information source), or one already tried is not where
    to refer the case next; the next referable suggestion is, and one added since counts."""
    referral = sent_referral()  # tried: test-ngo
    make_entry("retired-ngo", retired_at=utcnow())
    make_entry(
        "health-info",
        conditions=[{"id": "no_direct_casework", "text": "Information only; no cases."}],
    )
    assert referrals.next_best(referral) is None
    make_entry("open-ngo", name="Open NGO")  # added after the case came
    suggestion = referrals.next_best(referral)
    assert suggestion is not None
    assert suggestion["id"] == "open-ngo"
    assert suggestion["name"] == "Open NGO"

    entry = db.session.get(DirectoryEntry, "open-ngo")
    assert entry is not None
    entry.retired_at = utcnow()
    db.session.commit()
    assert referrals.next_best(referral) is None


def test_every_outcome_has_a_label() -> None:
    from intake.labels import REFERRAL_OUTCOME_LABELS as OUTCOME_LABELS
    from intake.models import ReferralOutcome

    assert set(OUTCOME_LABELS) == set(ReferralOutcome)


def test_override_reasons_come_from_a_fixed_list_so_no_free_text_is_stored(app: Flask) -> None:
    from intake.referrals.forms import OVERRIDE_REASON_LABELS

    assert set(OVERRIDE_REASON_LABELS) == set(referrals.OVERRIDE_REASONS)
    org = make_org_key()
    make_entry()
    case = make_case(org, consent_given=False)
    admin = make_user(Role.ADMIN)
    with pytest.raises(referrals.ReferralError, match="list"):
        referrals.create(
            case.id,
            "test-ngo",
            ReferralKind.NGO_REFERRAL,
            admin,
            consent_override_reason="Ms X was taken from her home on 3 May",
        )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == 0
