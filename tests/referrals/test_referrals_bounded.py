"""/referrals' cost follows the page, as the case queue's does (issue 14): its summary and its
list count no further than COUNT_CAP + 1 (past it a count reads "5+" here, "100+" in use), the
pages go on past the cap, and below it every count is exact. Counted in full, the summary and
the list's count read every running referral on every view: 73 ms of PostgreSQL a view at
157,000 of them, whatever page was shown."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AuditEvent,
    DirectoryEntry,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    User,
)
from intake.referrals import routes
from intake.services import counting, referrals
from tests.builders import make_case, make_org_key, make_user, sign_in

CAP = 5


@pytest.fixture(autouse=True)
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counting, "COUNT_CAP", CAP)


def add_referrals(
    case_id: int, dues: list[timedelta | None], owner: User | None = None
) -> list[int]:
    """Referrals on ``case_id`` due this far from now (None: a draft, not sent yet)."""
    if db.session.get(DirectoryEntry, "test-ngo") is None:
        db.session.add(DirectoryEntry(id="test-ngo", name="Test NGO"))
    now = utcnow()
    made = []
    for due in dues:
        referral = Referral(
            case_id=case_id,
            entry_id="test-ngo",
            kind=ReferralKind.NGO_REFERRAL,
            state=ReferralState.DRAFT if due is None else ReferralState.SENT,
            due_at=None if due is None else now + due,
            owner_id=owner.id if owner else None,
        )
        db.session.add(referral)
        db.session.flush()
        made.append(referral.id)
    db.session.commit()
    return made


def summary(html: str) -> str:
    found = re.search(r'<p class="summary" role="status">(.*?)</p>', html, re.S)
    assert found is not None
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def listed(html: str) -> list[int]:
    return [int(n) for n in dict.fromkeys(re.findall(r'href="/referrals/(\d+)"', html))]


def test_below_the_cap_the_summary_counts_exactly_as_the_full_count(any_app: Flask) -> None:
    org = make_org_key()
    client = any_app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    other = make_user(Role.CASEWORKER)
    mine = make_case(org, assignee_id=me.id)
    theirs = make_case(org, assignee_id=other.id)
    # Mine: unowned on my case (overdue, due soon, a draft) and owned by me on theirs (late).
    add_referrals(mine.id, [timedelta(hours=-5), timedelta(days=2), None])
    add_referrals(theirs.id, [timedelta(days=-1)], owner=me)
    # Not mine: owned by someone else on my case, and unowned on theirs.
    add_referrals(mine.id, [timedelta(days=-3)], owner=other)
    add_referrals(theirs.id, [timedelta(days=30), None])
    now = utcnow()
    for owner_id in (None, me.id):
        bounded = referrals.overview(now, owner_id=owner_id, bounded=True)
        assert bounded == referrals.overview(now, owner_id=owner_id), owner_id
    assert referrals.overview(now, owner_id=me.id, bounded=True) == referrals.Overview(
        overdue=2, due_soon=1, awaiting=3, drafts=1
    )
    text = summary(client.get("/referrals/").get_data(as_text=True))
    assert "Overdue: 3" in text
    assert "Awaiting reply: 5" in text
    assert "Not sent yet: 2" in text
    assert "(yours: 2 overdue, 1 due soon)" in text


def test_past_the_cap_the_summary_says_so_and_the_pages_go_on(
    any_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "PER_PAGE", 4)
    org = make_org_key()
    client = any_app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    case = make_case(org, assignee_id=me.id)
    # Eleven overdue, each a day earlier than the next: the list's order is the made order.
    made = add_referrals(case.id, [timedelta(days=n - 20) for n in range(11)])
    text = summary(client.get("/referrals/?view=overdue").get_data(as_text=True))
    assert f"Overdue: {CAP}+" in text
    assert f"Awaiting reply: {CAP}+" in text
    assert f"(yours: {CAP}+ overdue, 0 due soon)" in text
    first = client.get("/referrals/?view=overdue").get_data(as_text=True)
    assert re.search(r"<span>Page 1</span>", first)
    assert "Page 1 of" not in first
    nav = re.search(r"<nav class=\"pagination\".*?</nav>", first, re.S)
    assert nav is not None, first[-3000:]
    assert "page=2" in nav.group(0)
    seen = listed(first)
    for number in (2, 3):
        html = client.get(f"/referrals/?view=overdue&page={number}").get_data(as_text=True)
        seen += listed(html)
    assert seen == made  # each once, nearest deadline first
    # The last page counts as deep as it reads: exactly, and it has no next.
    last = client.get("/referrals/?view=overdue&page=3").get_data(as_text=True)
    assert "Page 3 of 3" in last
    assert "Next</a>" not in last
    # A capped listing is audited as capped, as the queue's is.
    event = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action == referrals.LIST_ACTION)
        .order_by(AuditEvent.id)
    ).first()
    assert event is not None
    assert (event.detail["total"], event.detail.get("capped")) == (CAP + 1, True)


def test_the_summary_reads_as_far_as_the_cap_in_chinese_too(any_app: Flask) -> None:
    org = make_org_key()
    client = any_app.test_client()
    sign_in(client, Role.CASEWORKER)
    case = make_case(org)
    add_referrals(case.id, [timedelta(days=-n - 1) for n in range(CAP + 2)])
    html = client.get("/referrals/?view=overdue&lang=zh_Hant").get_data(as_text=True)
    assert f"逾期：{CAP}+" in summary(html)
