"""The queue says how far off a deadline is in the words of every other staff page
(intake.clock.relative). A deadline 30 hours past read "1 day 6 h overdue" on /referrals,
"30 hours overdue" in the queue's next-action cell and "(30 hours ago)" in its hint, which the
browser wrote with Intl.RelativeTimeFormat: three wordings of one fact."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import CaseStatus, Referral, ReferralKind, ReferralState, Role, Urgency
from intake.models.directory import DirectoryEntry
from tests.builders import make_case, make_entry, make_org_key, sign_in

# A few minutes past the hour, so that the seconds a request takes never change the words.
LATE = timedelta(hours=30, minutes=10)
AHEAD = timedelta(days=3, hours=2, minutes=10)

WORDS = [
    ("en", "1 day 6 h overdue", "in 3 days 2 h"),
    ("zh_Hant", "已逾期 1 天 6 小時", "3 天 2 小時後"),
    ("zh_Hans", "已逾期 1 天 6 小时", "3 天 2 小时后"),
]


def _refer(case_id: int, due_in: timedelta) -> Referral:
    if db.session.get(DirectoryEntry, "ngo-x") is None:
        make_entry("ngo-x", name="NGO X")
    referral = Referral(
        case_id=case_id,
        entry_id="ngo-x",
        kind=ReferralKind.NGO_REFERRAL,
        state=ReferralState.SENT,
        due_at=utcnow() + due_in,
    )
    db.session.add(referral)
    db.session.commit()
    return referral


def _cell(html: str, ref: str, name: str) -> str:
    """The text of the row ``ref``'s cell ``cell-<name>``, tags left out."""
    row = re.search(rf'<tr class="case-row[^"]*" data-ref="{ref}">(.*?)</tr>', html, re.S)
    assert row is not None, ref
    cell = re.search(rf'<td class="cell-{name}[^"]*"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert cell is not None, (ref, name)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", cell.group(1))).split())


@pytest.mark.parametrize(("lang", "late", "ahead"), WORDS)
def test_the_queue_says_how_far_off_a_deadline_is_as_the_referrals_page_does(
    client: FlaskClient, lang: str, late: str, ahead: str
) -> None:
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    answered: dict[str, Any] = {"status": CaseStatus.REFERRED, "assignee_id": me.id}
    long_ago = utcnow() - timedelta(days=20)
    _refer(make_case(org, ref="RF-LATE", received_at=long_ago, **answered).id, -LATE)
    _refer(make_case(org, ref="RF-AHEAD", received_at=long_ago, **answered).id, AHEAD)
    # New and immediate: its first response was due 24 hours after it came in.
    make_case(
        org,
        ref="RF-FIRST",
        urgency=Urgency.IMMEDIATE,
        assignee_id=me.id,
        received_at=utcnow() - timedelta(hours=24) - LATE,
    )

    queue = client.get(f"/cases/?view=all&lang={lang}").get_data(as_text=True)
    referral_list = client.get(f"/referrals/?view=all&lang={lang}").get_data(as_text=True)

    assert late in unescape(referral_list)  # /referrals' badge, for the same deadline
    assert _cell(queue, "RF-LATE", "action").endswith(late)
    assert _cell(queue, "RF-FIRST", "action").endswith(late)
    # The due date's hint comes with the page, in the same words: not written by the browser.
    for ref in ("RF-LATE", "RF-FIRST"):
        assert _cell(queue, ref, "due").endswith(f"({late})"), ref
    assert _cell(queue, "RF-AHEAD", "due").endswith(f"({ahead})")
    assert queue.count("data-due-in") == 3
