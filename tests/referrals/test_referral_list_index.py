"""/referrals reads a page of running referrals off ``ix_referrals_awaiting_due`` (issue 14):
at 100,000 demo cases each page sorted all 81,000 running referrals on disk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import DirectoryEntry, Referral, ReferralKind, ReferralState, Role
from intake.services import referrals
from tests.builders import make_case, make_org_key, make_user, sign_in


def plan_of(statement: sa.Select[Any]) -> str:
    """PostgreSQL's plan for ``statement`` with sequential scans and sorts off: can an index
    serve it, in its order? (A sort still shows where nothing else can give the order.)"""
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    db.session.execute(sa.text("SET LOCAL enable_sort = off"))
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    return "\n".join(db.session.scalars(sa.text("EXPLAIN " + sql)))


@pytest.mark.parametrize("view", ["action", "overdue", "due_soon", "awaiting", "timeline"])
def test_a_page_of_each_view_is_read_off_the_index_without_sorting(
    pg_app: Flask, view: str
) -> None:
    me = make_user(Role.CASEWORKER)
    filters = referrals.ReferralFilters(view=view)
    page = referrals.listing(filters, me.id, utcnow()).limit(25)
    plan = plan_of(page)
    assert "ix_referrals_awaiting_due" in plan, plan
    assert "Sort" not in plan, plan


def test_the_list_keeps_its_order_nearest_deadline_first_undated_last(any_app: Flask) -> None:
    """The order the index gives is the one the list always had: due date ascending, referrals
    without one (drafts not yet dated) after every dated one, then by id."""
    org = make_org_key()
    client = any_app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    case = make_case(org, assignee_id=me.id)
    now = utcnow()
    db.session.add(DirectoryEntry(id="test-ngo", name="Test NGO"))
    dues = [now + timedelta(days=3), None, now - timedelta(days=2), now + timedelta(days=3), None]
    made = []
    for due in dues:
        referral = Referral(
            case_id=case.id,
            entry_id="test-ngo",
            kind=ReferralKind.NGO_REFERRAL,
            state=ReferralState.DRAFT if due is None else ReferralState.SENT,
            due_at=due,
        )
        db.session.add(referral)
        db.session.flush()
        made.append(referral.id)
    db.session.commit()
    everything = referrals.listing(referrals.ReferralFilters(view="all"), me.id, now)
    rows = cast(list[Referral], db.session.scalars(everything).all())
    listed = [referral.id for referral in rows]
    assert listed == [made[2], made[0], made[3], made[1], made[4]]
    # "Needs action" lists drafts too (the awaiting view does not: they await nothing yet).
    page = client.get("/referrals/?view=action").get_data(as_text=True)
    positions = [page.find(f"/referrals/{referral_id}") for referral_id in made]
    assert all(position > 0 for position in positions), positions
    assert positions[2] < positions[0] < positions[3] < positions[1] < positions[4]
