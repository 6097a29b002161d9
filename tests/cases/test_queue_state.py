"""The queue's stored columns follow the case and its referrals in the same flush."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseStatus, Referral, ReferralKind, ReferralState, Urgency
from tests.builders import make_case, make_entry, make_org_key


def _stored(case_id: int) -> tuple[object, ...]:
    db.session.expire_all()
    row = db.session.execute(
        sa.select(
            Case.urgency_rank, Case.first_response_at, Case.next_due, Case.attention_at
        ).where(Case.id == case_id)
    ).one()
    return tuple(row)


def test_stored_queue_columns_follow_referral_changes_and_deletions(any_app: Flask) -> None:
    received = utcnow() - timedelta(hours=1)
    case = make_case(make_org_key(), urgency=Urgency.WEEKS, received_at=received)
    rank, respond_by, next_due, attention = _stored(case.id)
    assert (rank, respond_by, next_due) == (2, received + timedelta(days=14), None)
    assert attention == respond_by

    make_entry("ngo-x", name="NGO X")
    soon = utcnow() + timedelta(days=2)
    referral = Referral(
        case_id=case.id, entry_id="ngo-x", kind=ReferralKind.NGO_REFERRAL,
        state=ReferralState.SENT, due_at=soon,
    )  # fmt: skip
    db.session.add(referral)
    db.session.commit()
    assert _stored(case.id)[2:] == (soon, soon)

    referral.state = ReferralState.REPLIED  # the clock stops
    db.session.commit()
    assert _stored(case.id)[2:] == (None, respond_by)

    referral.state = ReferralState.SENT
    db.session.commit()
    db.session.delete(referral)
    db.session.commit()
    assert _stored(case.id)[2] is None


def test_a_case_past_new_no_longer_counts_its_first_response(any_app: Flask) -> None:
    case = make_case(make_org_key(), urgency=Urgency.IMMEDIATE)
    assert _stored(case.id)[3] is not None
    case.status = CaseStatus.ASSESSING
    case.urgency = Urgency.DAYS
    db.session.commit()
    rank, _respond_by, _next_due, attention = _stored(case.id)
    assert (rank, attention) == (1, None)
