"""Builders for referral tests: a case with an owner and a sent referral."""

from __future__ import annotations

from datetime import datetime

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    DirectoryEntry,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    UnStepKind,
    User,
)
from intake.services import referrals, un_steps
from intake.services.deadlines import UN_KINDS
from intake.services.un_steps import CLOCK_STEP
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_user,
)

CANARY = "CANARY-7f3a-referral-plaintext"


def sent_referral(
    kind: ReferralKind = ReferralKind.SP_URGENT_APPEAL,
    sent_at: datetime | None = None,
    owner: User | None = None,
    org: OrgKeyPair | None = None,
    entry_id: str = "test-ngo",
) -> Referral:
    org = org or make_org_key()
    owner = owner or make_user(Role.CASEWORKER)
    give_key(owner, org)  # a referral's owner can open its case
    if db.session.get(DirectoryEntry, entry_id) is None:
        make_entry(entry_id)
    case = make_case(org, {"what_happened": CANARY, "victims": [{"name": CANARY}]})
    referral = referrals.create(case.id, entry_id, kind, owner, owner_id=owner.id)
    moment = sent_at or utcnow()
    referral = referrals.transition(referral.id, "send", owner, at=moment)
    if kind in UN_KINDS:
        # Most tests want the government's clock running: the mandate wrote the same day.
        step = CLOCK_STEP[kind]
        fields = (
            un_steps.StepFields(communication_type="urgent_appeal")
            if step == UnStepKind.COMMUNICATION_SENT
            else None
        )
        un_steps.record(referral.id, step, owner, at=moment, fields=fields)
        db.session.refresh(referral)
    assert referral.state == ReferralState.SENT
    return referral
