"""The queue marks a case held by someone whose account is deactivated, as the referral and
case pages do: they will not act on it. The mark comes with the page's one statement."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import CaseStatus, Role, User
from tests.builders import give_key, make_case, make_org_key, make_user, sign_in
from tests.cases.test_queue_bounded import statements


def assignee_cell(html: str, ref: str) -> str:
    row = re.search(rf'<tr class="case-row[^"]*" data-ref="{ref}">(.*?)</tr>', html, re.S)
    assert row is not None, ref
    cell = re.search(r'<td class="cell-assignee"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert cell is not None, ref
    return cell.group(1)


@pytest.mark.parametrize("query", ["view=open", "view=open&country=MX"])
def test_a_case_held_by_a_deactivated_account_is_marked_in_the_queue(
    any_app: Flask, query: str
) -> None:
    """Both ways a page is read: a saved view's page, and a filtered list's ids."""
    client = any_app.test_client()
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    leaver = give_key(make_user(Role.CASEWORKER, email="leaver@example.org"), org)
    stayer = give_key(make_user(Role.CASEWORKER, email="stayer@example.org"), org)
    now = utcnow()
    make_case(
        org,
        ref="RF-LEFT",
        status=CaseStatus.ASSESSING,
        assignee_id=leaver.id,
        received_at=now - timedelta(hours=3),
    )
    make_case(
        org,
        ref="RF-KEPT",
        status=CaseStatus.ASSESSING,
        assignee_id=stayer.id,
        received_at=now - timedelta(hours=2),
    )
    make_case(org, ref="RF-NONE", status=CaseStatus.ASSESSING, received_at=now - timedelta(hours=1))
    db.session.commit()

    def listing() -> tuple[str, int]:
        client.get(f"/cases/?{query}")  # warm: the session row, the time zone, the key
        with statements(any_app) as seen:
            response = client.get(f"/cases/?{query}")
        assert response.status_code == 200
        return response.get_data(as_text=True), len(seen)

    html, before = listing()
    assert "data-assignee-deactivated" not in html
    db.session.get_one(User, leaver.id).is_active_account = False
    db.session.commit()
    html, after = listing()
    left = assignee_cell(html, "RF-LEFT")
    assert "leaver" in left
    assert re.search(
        r'<span class="badge badge-overdue" data-assignee-deactivated>\(account deactivated\)'
        r"</span>",
        left,
    )
    assert "data-assignee-deactivated" not in assignee_cell(html, "RF-KEPT")
    assert "data-assignee-deactivated" not in assignee_cell(html, "RF-NONE")
    assert after == before  # read with the page's rows, not by another statement

    chinese = client.get(f"/cases/?{query}&lang=zh_Hant").get_data(as_text=True)
    assert "（帳號已停用）" in assignee_cell(chinese, "RF-LEFT")
    simplified = client.get(f"/cases/?{query}&lang=zh_Hans").get_data(as_text=True)
    assert "（账号已停用）" in assignee_cell(simplified, "RF-LEFT")
