""" "Due soon" is one rule (deadlines.is_due_soon, and due_soon_sql for queries): a deadline
from now to just before now + DUE_SOON. /referrals and the digest counted a deadline exactly
DUE_SOON away (``<=``) where the queue did not (``<``): one referral, due soon on one page and
not on the other."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseStatus, Referral, ReferralKind, ReferralState, Role, User
from intake.services import queue, referrals, reminders
from intake.services.deadlines import DUE_SOON, DUE_SOON_DAYS, due_soon_sql, is_due_soon
from intake.services.queue import NearestClock, QueueCase
from tests.builders import make_case, make_entry, make_org_key, make_user, sign_in
from tests.referrals.conftest import sent_referral

SECOND = timedelta(seconds=1)


def test_the_window_is_from_now_to_just_before_now_plus_due_soon() -> None:
    now = datetime(2027, 1, 31, 3, 9, tzinfo=utcnow().tzinfo)
    assert not is_due_soon(now - SECOND, now)
    assert is_due_soon(now - SECOND, now, or_overdue=True)
    assert is_due_soon(now, now)
    assert is_due_soon(now + DUE_SOON - SECOND, now)
    assert not is_due_soon(now + DUE_SOON, now)
    assert not is_due_soon(now + DUE_SOON, now, or_overdue=True)


def _referred(owner: User, due: datetime) -> Referral:
    """A case we answered, held by ``owner``, with one referral waiting on ``due``."""
    case = make_case(make_org_key(), status=CaseStatus.REFERRED, assignee_id=owner.id)
    referral = Referral(
        case_id=case.id,
        entry_id="ngo-x",
        kind=ReferralKind.NGO_REFERRAL,
        state=ReferralState.SENT,
        owner_id=owner.id,
        due_at=due,
    )
    db.session.add(referral)
    db.session.commit()
    return referral


def _queue_case(case: Case) -> QueueCase:
    return QueueCase(
        id=case.id,
        ref=case.ref,
        status=case.status,
        urgency=case.urgency,
        country=case.country,
        languages=list(case.languages),
        assignee_id=case.assignee_id,
        org_key_id=case.org_key_id,
        sealed_answers=case.sealed_answers,
        received_at=case.received_at,
        next_due=case.next_due,
    )


def test_a_deadline_exactly_due_soon_away_is_due_soon_nowhere_and_a_second_sooner_everywhere(
    any_app: Flask,
) -> None:
    now = utcnow().replace(microsecond=0)
    owner = make_user(Role.CASEWORKER)
    make_entry("ngo-x", name="NGO X")
    at_the_end = _referred(owner, now + DUE_SOON)
    inside = _referred(owner, now + DUE_SOON - SECOND)

    # /referrals: its counts, its "due soon" and "action needed" views; the daily digest.
    assert referrals.overview(now).due_soon == 1
    assert referrals.overview(now, owner_id=owner.id).due_soon == 1
    for view in ("due_soon", "action"):
        query = referrals.listing(referrals.ReferralFilters(view=view), owner.id, now)
        listed = db.session.scalars(query.with_only_columns(Referral.id)).all()
        assert listed == [inside.id], view
    assert reminders.digest_counts(owner.id, now)["due_within_7_days"] == 1
    # The queue: its tabs (read off the stored columns), and each row's flag and next action.
    counts, _people, _ids = queue.view_counts(owner, now)
    assert (counts["week"], counts["action"]) == (1, 1)
    for referral, soon in ((at_the_end, False), (inside, True)):
        case = _queue_case(db.session.get_one(Case, referral.case_id))
        assert ("due_soon" in queue.flags_for(case, referral.due_at, now)) is soon
        clock = NearestClock(referral.kind, referral.state, referral.due_at or now, "NGO X")
        assert queue.next_action(case, clock, now).when == ("soon" if soon else "waiting")
    # The SQL and the Python agree.
    in_sql = db.session.scalars(
        sa.select(Referral.id).where(due_soon_sql(Referral.due_at, now)).order_by(Referral.id)
    ).all()
    assert in_sql == [inside.id]


def test_the_queue_builds_its_statements_once_with_the_window_as_parameters() -> None:
    with pytest.raises(TypeError):
        due_soon_sql(Referral.due_at, sa.bindparam("now"))


DAYS = DUE_SOON_DAYS
WORDS = [
    (
        "en",
        f"Due within {DAYS} days: 1",
        f"Due within {DAYS} days",
        f"Deadlines within the next {DAYS} days and overdue referrals appear here.",
    ),
    ("zh_Hant", f"{DAYS} 天內到期：1", f"{DAYS} 天內到期", f"未來 {DAYS} 天內的期限與逾期轉介"),
    ("zh_Hans", f"{DAYS} 天内到期：1", f"{DAYS} 天内到期", f"未来 {DAYS} 天内的期限与逾期转介"),
]


@pytest.mark.parametrize(("lang", "count", "view", "nothing_due"), WORDS)
def test_referrals_name_the_days_of_due_soon(
    web: Flask, lang: str, count: str, view: str, nothing_due: str
) -> None:
    owner = make_user(Role.CASEWORKER)
    client = web.test_client()
    sign_in(client, owner)
    empty = client.get(f"/referrals/?view=due_soon&lang={lang}").get_data(as_text=True)
    assert nothing_due in empty
    sent_referral(ReferralKind.NGO_REFERRAL, sent_at=utcnow() - timedelta(days=10), owner=owner)
    html = client.get(f"/referrals/?lang={lang}").get_data(as_text=True)
    assert count in html
    assert f">{view}<" in html  # the view's tab
