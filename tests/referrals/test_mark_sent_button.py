"""A draft referral's page offers its next step where the flash that started it says to take
it ("Mark it as sent when it has gone out"): a button beside its state, not only an option
of "What happened" further down (a caseworker walkthrough found no such button)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import Referral, ReferralKind, ReferralState, Role
from intake.services import referrals
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_user,
    sign_in,
)
from tests.cases.test_case_page_browser import staff_page
from tests.referrals.conftest import draft_un_referral

MARK_SENT = re.compile(
    r'<form method="post" action="([^"]+)" class="inline-form" data-mark-sent>(.*?)</form>', re.S
)


def ngo_draft() -> tuple[OrgKeyPair, Referral]:
    """A referral to an organisation, not sent yet, owned by a caseworker who holds the key."""
    org = make_org_key()
    make_entry("help-ngo")
    owner = give_key(make_user(Role.CASEWORKER), org)
    case = make_case(org)
    return org, referrals.create(
        case.id, "help-ngo", ReferralKind.NGO_REFERRAL, owner, owner_id=owner.id
    )


def test_a_draft_is_marked_sent_from_beside_its_state(web: Flask) -> None:
    org, draft = ngo_draft()
    client = web.test_client()
    give_key(sign_in(client, Role.CASEWORKER), org)
    page = client.get(f"/referrals/{draft.id}").get_data(as_text=True)
    found = MARK_SENT.search(page)
    assert found is not None
    action, fields = found.groups()
    assert "Mark as sent (starts the clock)" in fields
    sent = client.post(action, data=dict(re.findall(r'name="(action)" value="([^"]+)"', fields)))
    assert sent.status_code == 302
    db.session.refresh(draft)
    assert draft.state == ReferralState.SENT
    assert draft.sent_at is not None
    assert abs(draft.sent_at - utcnow()) < timedelta(minutes=1)
    # Sent: nothing more to mark.
    assert MARK_SENT.search(client.get(f"/referrals/{draft.id}").get_data(as_text=True)) is None


def test_a_un_draft_and_a_viewer_get_no_such_button(web: Flask) -> None:
    """A UN referral moves by its steps (its submission is recorded there), and a viewer
    changes nothing."""
    un_draft = draft_un_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    assert MARK_SENT.search(client.get(f"/referrals/{un_draft.id}").get_data(as_text=True)) is None
    _org, draft = ngo_draft()
    viewer = web.test_client()
    sign_in(viewer, Role.VIEWER)
    page = viewer.get(f"/referrals/{draft.id}")
    assert page.status_code == 200
    assert MARK_SENT.search(page.get_data(as_text=True)) is None


def test_the_button_posts_with_its_own_csrf_token(make_app: Callable[..., Flask]) -> None:
    """With CSRF on, as served: the form carries the token, and without it nothing changes."""
    app = make_app("sqlite")
    with app.app_context():
        org, draft = ngo_draft()
        client = app.test_client()
        give_key(sign_in(client, Role.CASEWORKER), org)
        found = MARK_SENT.search(client.get(f"/referrals/{draft.id}").get_data(as_text=True))
        assert found is not None
        action, fields = found.groups()
        posted = dict(re.findall(r'name="(action|csrf_token)" value="([^"]+)"', fields))
        assert set(posted) == {"action", "csrf_token"}
        refused = client.post(action, data={"action": "send"})
        assert refused.status_code == 400
        db.session.refresh(draft)
        assert draft.state == ReferralState.DRAFT
        assert client.post(action, data=posted).status_code == 302
        db.session.refresh(draft)
        assert draft.state == ReferralState.SENT


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_on_a_phone_the_button_is_one_line_beside_the_state(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    """At 360 px, in half a row, the button's words wrapped over three lines (two in 繁體中文)."""
    org, draft = ngo_draft()
    user = give_key(make_user(Role.CASEWORKER), org)
    page = staff_page(browser, app, live_server, user, width=360)
    try:
        page.goto(f"{live_server.url}/referrals/{draft.id}?lang={locale}")
        button = page.locator("[data-mark-sent] button").bounding_box()
        assert button is not None
        line = page.locator("[data-mark-sent] button").evaluate(
            "b => parseFloat(getComputedStyle(b).lineHeight)"
        )
        assert button["height"] < 2 * line, button  # one line of words and its padding
        assert button["x"] + button["width"] <= 360
    finally:
        page.context.close()
