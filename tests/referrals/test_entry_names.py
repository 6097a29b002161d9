"""A directory entry is named the same way on every staff page: in 简体中文 its Simplified
name, in 繁體中文 its Traditional one, else English (usability pass: the queue showed the
Traditional name on a Simplified page, and the case page, the new-referral list and "next
best" the English one)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import Role
from tests.builders import make_entry, make_org_key, make_user, sign_in
from tests.referrals.conftest import sent_referral

HANT, HANS = "保護記者委員會", "保护记者委员会"  # the shipped table converts this name
NEXT_HANT, NEXT_HANS = "國際特赦組織", "国际特赦组织"


@pytest.mark.parametrize(
    ("language", "shown", "not_shown"),
    [("zh_Hans", HANS, HANT), ("zh_Hant", HANT, HANS), ("en", "Committee to Protect", HANS)],
)
def test_an_entry_is_named_in_the_reader_s_script_on_every_staff_page(
    any_app: Flask, language: str, shown: str, not_shown: str
) -> None:
    org = make_org_key()
    owner = make_user(Role.CASEWORKER)
    make_entry("cpj", name="Committee to Protect Journalists", name_zh=HANT)
    make_entry("amnesty", name="Amnesty International", name_zh=NEXT_HANT)
    overdue = sent_referral(
        sent_at=utcnow() - timedelta(days=61), owner=owner, org=org, entry_id="cpj"
    )
    case = overdue.case
    case.triage = [
        {"id": "cpj", "name": "Committee to Protect Journalists", "score": 3, "reasons": []},
        {"id": "amnesty", "name": "Amnesty International", "score": 2, "reasons": []},
    ]
    case.assignee_id = owner.id
    db.session.commit()
    client = any_app.test_client()
    sign_in(client, owner)
    client.get(f"/cases/?lang={language}")
    pages = {
        "queue": client.get("/cases/?view=all").get_data(as_text=True),
        "case": client.get(f"/cases/{case.ref}").get_data(as_text=True),
        "new referral": client.get(f"/referrals/new?ref={case.ref}").get_data(as_text=True),
        "referral": client.get(f"/referrals/{overdue.id}").get_data(as_text=True),
        "referrals": client.get("/referrals/?view=overdue").get_data(as_text=True),
    }
    for page, html in pages.items():
        assert shown in html, page
        assert not_shown not in html, page
    if language == "zh_Hans":  # "next best" for the overdue referral, on its page and the list
        assert NEXT_HANS in pages["referrals"]
        assert NEXT_HANS in pages["referral"]
        assert "Amnesty International" not in pages["referrals"]
