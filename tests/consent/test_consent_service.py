"""Consent per purpose: records from the intake answers, the referral gate per purpose, the
audited override, withdrawal, and the reprisals question (issue 12)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AuditEvent,
    ConsentChannel,
    ConsentGiver,
    ConsentPurpose,
    ConsentRecord,
    Referral,
    ReferralKind,
    Role,
    Urgency,
)
from intake.services import audit, consent, referrals, submissions
from intake.services.triage import Routing
from tests.builders import make_case, make_entry, make_org_key, make_user

ALL_KINDS = {
    "un": ReferralKind.SP_URGENT_APPEAL,
    "ngo": ReferralKind.NGO_REFERRAL,
    "reprisals": ReferralKind.REPRISALS_REPORT,
}


def _routing(consented: bool) -> Routing:
    return Routing(
        urgency=Urgency.DAYS,
        threats=("detention",),
        profiles=(),
        country="MX",
        languages=("es",),
        consent_given=consented,
    )


def _actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def test_intake_yes_records_sharing_and_un_consent_from_the_form(app: Flask) -> None:
    org = make_org_key()
    submission = submissions.create_case_from_plaintext(
        _routing(True), org_key=org.key, answers={"what_happened": "x"}, files=[], locale="en"
    )
    case = submission.case
    found = consent.records(case)
    assert {r.purpose for r in found} == set(consent.INTAKE_PURPOSES)
    assert all(r.given_via is ConsentChannel.INTAKE_FORM for r in found)
    assert all(r.given_by is ConsentGiver.SUBMITTER for r in found)
    assert all(r.given_at == case.received_at for r in found)
    assert case.consent_given is True
    assert _actions() == ["case.submitted", "consent.recorded", "consent.recorded"]
    assert consent.reprisals_consent(case) is None


def test_intake_without_consent_records_nothing(app: Flask) -> None:
    org = make_org_key()
    case = submissions.create_case_from_plaintext(
        _routing(False), org_key=org.key, answers={"what_happened": "x"}, files=[], locale="en"
    ).case
    assert consent.records(case) == []
    assert case.consent_given is False


def test_consent_for_sharing_does_not_open_the_reprisals_report(app: Flask) -> None:
    org = make_org_key()
    make_entry(referral_kinds=[])
    case = make_case(org)  # intake consent: sharing and UN submission
    caseworker = make_user(Role.CASEWORKER)
    referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, caseworker)
    referrals.create(case.id, "test-ngo", ReferralKind.SP_URGENT_APPEAL, caseworker)
    with pytest.raises(referrals.ConsentRequired):
        referrals.create(case.id, "test-ngo", ReferralKind.REPRISALS_REPORT, caseworker)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == 2


def test_admin_override_for_a_purpose_is_audited_with_that_purpose(app: Flask) -> None:
    org = make_org_key()
    make_entry(referral_kinds=[])
    case = make_case(org)
    admin = make_user(Role.ADMIN)
    referral = referrals.create(
        case.id,
        "test-ngo",
        ReferralKind.REPRISALS_REPORT,
        admin,
        consent_override_reason="asked_by_family_or_lawyer",
    )
    assert referral.consent_override_reason == "asked_by_family_or_lawyer"
    override = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "referral.consent_override")
    ).one()
    assert override.detail["purpose"] == "reprisals_report"
    assert audit.verify_chain().ok


def test_recorded_consent_opens_its_purpose_and_withdrawal_closes_it(app: Flask) -> None:
    org = make_org_key()
    make_entry(referral_kinds=[])
    case = make_case(org, consent_given=False)
    caseworker = make_user(Role.CASEWORKER)
    given = consent.record(
        case.id,
        ConsentPurpose.REPRISALS_REPORT,
        ConsentGiver.FAMILY,
        ConsentChannel.CALL_NOTE,
        caseworker,
    )
    assert consent.reprisals_consent(case) is True
    referrals.create(case.id, "test-ngo", ReferralKind.REPRISALS_REPORT, caseworker)
    consent.withdraw(
        case.id, given.id, ConsentGiver.LAWYER, ConsentChannel.FOLLOW_UP_MESSAGE, caseworker
    )
    assert consent.reprisals_consent(case) is False
    with pytest.raises(referrals.ConsentRequired):
        referrals.create(case.id, "test-ngo", ReferralKind.REPRISALS_REPORT, caseworker)
    assert _actions()[-2:] == ["referral.create", "consent.withdrawn"]


def test_consent_for_one_named_organisation_does_not_cover_another(app: Flask) -> None:
    org = make_org_key()
    make_entry("named-ngo", referral_kinds=[])
    make_entry("other-ngo", referral_kinds=[])
    case = make_case(org, consent_given=False)
    caseworker = make_user(Role.CASEWORKER)
    consent.record(
        case.id,
        ConsentPurpose.SHARE_WITH_ORGANISATION,
        ConsentGiver.PERSON,
        ConsentChannel.FOLLOW_UP_MESSAGE,
        caseworker,
        entry_id="named-ngo",
    )
    referrals.create(case.id, "named-ngo", ReferralKind.NGO_REFERRAL, caseworker)
    with pytest.raises(referrals.ConsentRequired):
        referrals.create(case.id, "other-ngo", ReferralKind.NGO_REFERRAL, caseworker)
    assert case.consent_given is True  # derived: consent to share is on record


def test_withdrawing_the_intake_consent_clears_the_derived_flag(app: Flask) -> None:
    org = make_org_key()
    case = make_case(org)
    sharing = next(
        r for r in consent.records(case) if r.purpose is ConsentPurpose.SHARE_WITH_ORGANISATION
    )
    consent.withdraw_by_submitter(case, sharing.id, "submitter")
    assert case.consent_given is False
    assert sharing.withdrawn_via is ConsentChannel.STATUS_PAGE


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"given_by": ConsentGiver.SUBMITTER}, "who"),
        ({"given_via": ConsentChannel.INTAKE_FORM}, "how"),
        (
            {"entry_id": "no-such-entry", "purpose": ConsentPurpose.SHARE_WITH_ORGANISATION},
            "directory",
        ),
        ({"entry_id": "test-ngo", "purpose": ConsentPurpose.PUBLICATION}, "name an organisation"),
        ({"given_at": utcnow() + timedelta(days=1)}, "future"),
        ({"given_at": utcnow() - timedelta(days=400)}, "before the request"),
    ],
)
def test_refused_records_write_nothing(app: Flask, changes: dict, message: str) -> None:
    org = make_org_key()
    make_entry()
    case = make_case(org, consent_given=False)
    caseworker = make_user(Role.CASEWORKER)
    arguments = {
        "purpose": ConsentPurpose.PUBLICATION,
        "given_by": ConsentGiver.PERSON,
        "given_via": ConsentChannel.CALL_NOTE,
        **changes,
    }
    with pytest.raises(consent.ConsentError, match=message):
        consent.record(
            case.id,
            arguments.pop("purpose"),
            arguments.pop("given_by"),
            arguments.pop("given_via"),
            caseworker,
            **arguments,
        )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentRecord)) == 0
    assert "consent.recorded" not in _actions()


def test_withdrawing_twice_or_another_cases_record_is_refused(app: Flask) -> None:
    org = make_org_key()
    case = make_case(org)
    other = make_case(org)
    caseworker = make_user(Role.CASEWORKER)
    record_id = consent.records(case)[0].id
    with pytest.raises(consent.ConsentError) as wrong_case:
        consent.withdraw(
            other.id, record_id, ConsentGiver.PERSON, ConsentChannel.CALL_NOTE, caseworker
        )
    assert wrong_case.value.status == 404
    consent.withdraw(case.id, record_id, ConsentGiver.PERSON, ConsentChannel.CALL_NOTE, caseworker)
    with pytest.raises(consent.ConsentError) as again:
        consent.withdraw(
            case.id, record_id, ConsentGiver.PERSON, ConsentChannel.CALL_NOTE, caseworker
        )
    assert again.value.status == 409
