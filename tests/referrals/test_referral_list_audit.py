"""/referrals is a read of the cases it lists (which case went to which organisation, by
reference): each listing writes one audit event naming what it showed, as the case queue's
does, in its filtered views and on every page; the audit page names and finds it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import AuditEvent, ReferralKind, Role
from intake.referrals import routes
from intake.services import referrals
from tests.builders import make_org_key, make_staff_with_keys, make_user, sign_in
from tests.referrals.conftest import CANARY, sent_referral


def listings() -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action == referrals.LIST_ACTION)
            .order_by(AuditEvent.id)
        )
    )


def test_each_referral_listing_is_audited_with_what_it_listed(any_app: Flask) -> None:
    org = make_org_key()
    owner = make_user(Role.CASEWORKER)
    first = sent_referral(ReferralKind.NGO_REFERRAL, owner=owner, org=org)
    second = sent_referral(ReferralKind.NGO_REFERRAL, owner=owner, org=org, entry_id="other-ngo")
    client = any_app.test_client()
    viewer = sign_in(client, Role.VIEWER)
    before = len(listings())
    page = client.get("/referrals/?view=all")
    assert page.status_code == 200
    events = listings()[before:]
    assert len(events) == 1
    (event,) = events
    assert event.actor_id == viewer.id
    assert (event.target_type, event.target_id) == ("case", "*")
    # In the order the page listed them (nearest deadline first), each referral's case.
    listed = [int(n) for n in re.findall(r'href="/referrals/(\d+)"', page.text)]
    assert sorted(listed) == sorted([first.id, second.id])
    by_id = {first.id: first.case_id, second.id: second.case_id}
    assert event.detail == {
        "view": "all",
        "page": 1,
        "shown": 2,
        "total": 2,
        "cases": [by_id[n] for n in dict.fromkeys(listed)],
        "referrals": list(dict.fromkeys(listed)),
    }
    assert CANARY not in str(event.detail)  # ids and codes, never what a case says


def test_filtered_views_and_later_pages_are_audited_too(
    web: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "PER_PAGE", 1)
    org = make_org_key()
    owner = make_user(Role.CASEWORKER)
    made = [
        sent_referral(ReferralKind.NGO_REFERRAL, owner=owner, org=org, entry_id=entry)
        for entry in ("first-ngo", "second-ngo")
    ]
    client = web.test_client()
    sign_in(client, owner)
    before = len(listings())
    # A name typed in the reference box is never written to the audit: only that it searched.
    for query in (
        "view=all&page=2",
        "view=awaiting&kind=ngo_referral&state=sent&owner=me",
        f"view=all&owner={owner.id}&q=RF-",
        "view=all&q=María López",
        "view=overdue",
        "view=all&page=9",
    ):
        assert client.get(f"/referrals/?{query}").status_code == 200, query
    details = [event.detail for event in listings()[before:]]
    assert len(details) == 6
    second_page, filtered, searched, by_name, overdue, beyond = details
    assert (second_page["view"], second_page["page"], second_page["shown"]) == ("all", 2, 1)
    assert second_page["total"] == 2
    assert second_page["referrals"][0] in {referral.id for referral in made}
    assert "filters" not in second_page
    assert filtered["view"] == "awaiting"
    assert filtered["filters"] == {"kind": "ngo_referral", "state": "sent", "owner": "me"}
    assert (filtered["shown"], filtered["total"]) == (1, 2)
    assert searched["filters"] == {"owner": owner.id, "search": True}
    assert by_name["filters"] == {"search": True}
    assert (by_name["shown"], by_name["cases"], by_name["referrals"]) == (0, [], [])
    assert "María" not in str(by_name)
    assert "López" not in str(by_name)
    assert (overdue["view"], overdue["shown"], overdue["cases"]) == ("overdue", 0, [])
    assert (beyond["page"], beyond["shown"], beyond["total"]) == (9, 0, 2)


def test_the_audit_page_names_the_referral_list_and_a_case_filter_finds_it(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app("sqlite", WTF_CSRF_ENABLED=False)
    with app.app_context():
        org = make_org_key()
        admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
        referral = sent_referral(ReferralKind.NGO_REFERRAL, org=org)
        referral_id, ref = referral.id, referral.case.ref
        client = app.test_client()
        sign_in(client, admin)
        assert client.get("/referrals/?view=all").status_code == 200
        html = client.get(f"/admin/audit?target_id={ref}").get_data(as_text=True)
        assert "Referral list viewed" in html
        assert "referral.list" in html
        assert f'href="/cases/{ref}">{ref}</a>' in html
        assert f"referrals=[{referral_id}]" in html
        zh = client.get(f"/admin/audit?target_id={ref}&lang=zh_Hant").get_data(as_text=True)
        assert "查看轉介列表" in zh
        assert "轉介列表" in zh
