"""Builders for referral tests: a case with an owner and a sent referral."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask

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
RECEIVED_BEFORE = timedelta(days=400)


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The referral pages on SQLite, CSRF off (tests that check CSRF make their own app)."""
    app = make_app("sqlite", WTF_CSRF_ENABLED=False)
    with app.app_context():
        yield app


def draft_un_referral(kind: ReferralKind = ReferralKind.SP_URGENT_APPEAL) -> Referral:
    """A UN referral not yet submitted, owned by a caseworker who holds the key."""
    org = make_org_key()
    make_entry("sr-hrd")
    owner = give_key(make_user(Role.CASEWORKER), org)
    # Received long enough ago for any step a test dates in the past (none can precede it).
    case = make_case(org, received_at=utcnow() - RECEIVED_BEFORE)
    return referrals.create(case.id, "sr-hrd", kind, owner, owner_id=owner.id)


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
    moment = sent_at or utcnow()
    case = make_case(
        org,
        {"what_happened": CANARY, "victims": [{"name": CANARY}]},
        received_at=min(moment, utcnow()) - timedelta(days=1),  # a request comes first
    )
    referral = referrals.create(case.id, entry_id, kind, owner, owner_id=owner.id)
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
