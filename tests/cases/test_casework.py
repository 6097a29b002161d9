"""The casework service on SQLite and PostgreSQL: concurrent changes, and what it returns."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import AuditEvent, Case, CaseStatus, Role
from intake.models import CaseOutcome as Outcome
from intake.services import casework
from intake.services.casework import CaseworkError
from tests.builders import make_case, make_org_key, make_user


def test_of_two_concurrent_changes_from_the_same_status_only_one_lands(any_app: Flask) -> None:
    case = make_case(make_org_key())
    actor = make_user(Role.CASEWORKER)
    assert case.status == CaseStatus.NEW  # loaded in this request's session
    # A colleague's request commits its change on another connection meanwhile.
    with db.engine.begin() as colleague:
        colleague.execute(
            sa.update(Case).where(Case.id == case.id).values(status=CaseStatus.ASSESSING)
        )
    assert case.status == CaseStatus.NEW  # this request still sees what it loaded
    with pytest.raises(CaseworkError) as refused:
        casework.change_status(case, CaseStatus.CLOSED, actor, Outcome.DUPLICATE)
    assert refused.value.status == 409
    db.session.expire_all()
    stored = db.session.get(Case, case.id)
    assert stored is not None
    assert (stored.status, stored.outcome) == (CaseStatus.ASSESSING, None)
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 0


def test_closing_records_outcome_and_time_and_reopening_clears_them(any_app: Flask) -> None:
    case = make_case(make_org_key())
    actor = make_user(Role.ADMIN)
    casework.change_status(case, CaseStatus.CLOSED, actor, Outcome.OUT_OF_SCOPE)
    assert (case.status, case.outcome) == (CaseStatus.CLOSED, "out_of_scope")
    assert case.closed_at is not None
    casework.change_status(case, CaseStatus.ASSESSING, actor, expected=CaseStatus.CLOSED)
    assert (case.status, case.outcome, case.closed_at) == (CaseStatus.ASSESSING, None, None)
    details = db.session.scalars(sa.select(AuditEvent.detail).order_by(AuditEvent.id)).all()
    assert details == [
        {"from": "new", "to": "closed", "outcome": "out_of_scope"},
        {"from": "closed", "to": "assessing", "outcome": None},
    ]
