"""A running referral's deadline is marked overdue or due soon wherever it is listed: the case
page and /referrals/new listed "due 13 Oct" plainly while the queue called it 54 days overdue
(a caseworker walkthrough)."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import Referral, ReferralKind, ReferralState, Role
from tests.builders import give_key, make_case, make_entry, make_org_key, sign_in


def _badges(html: str, section: str) -> dict[str, str]:
    """Each listed referral's entry id (from its link's item) and its badge kind, if any."""
    found = re.search(section, html, re.S)
    assert found is not None, section
    marks: dict[str, str] = {}
    for item in re.findall(r"<li[^>]*>(.*?)</li>", found.group(0), re.S):
        name = re.search(r">([^<]*NGO[^<]*)</a>", item)
        assert name is not None, item
        badge = re.search(r"data-(overdue|due-soon)>", item)
        marks[name.group(1).strip()] = badge.group(1) if badge else ""
    return marks


def test_the_case_page_and_a_new_referral_mark_overdue_and_due_soon(web: Flask) -> None:
    org = make_org_key()
    case = make_case(org)
    now = utcnow()
    for entry, due in (
        ("late-ngo", -timedelta(days=54)),
        ("soon-ngo", timedelta(hours=11)),
        ("later-ngo", timedelta(days=40)),
    ):
        make_entry(entry, name=entry.split("-")[0].title() + " NGO")
        db.session.add(
            Referral(
                case_id=case.id,
                entry_id=entry,
                kind=ReferralKind.NGO_REFERRAL,
                state=ReferralState.SENT,
                due_at=now + due,
            )
        )
    db.session.commit()
    client = web.test_client()
    give_key(sign_in(client, Role.CASEWORKER), org)
    expected = {"Late NGO": "overdue", "Soon NGO": "due-soon", "Later NGO": ""}
    case_page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert _badges(case_page, r'<ul class="referral-list".*?</ul>') == expected
    new = client.get(f"/referrals/new?ref={case.ref}").get_data(as_text=True)
    assert _badges(new, r"<section class=\"open-referrals\".*?</section>") == expected
    listed = client.get("/referrals/?view=all").get_data(as_text=True)
    assert listed.count("data-overdue>") == 1
    assert listed.count("data-due-soon>") == 1
