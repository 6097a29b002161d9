"""The referral page's owner form in real Chromium on a 390 px phone: a deactivated owner is
marked, the form fits the screen, and choosing a colleague gives them the referral."""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask

from intake.extensions import db
from intake.models import Referral, Role
from tests.builders import give_key, make_org_key, make_user, signed_in_context
from tests.public.test_accessibility import assert_accessible, no_horizontal_scroll
from tests.referrals.conftest import sent_referral

pytestmark = pytest.mark.browser

SCREENSHOT = os.environ.get("HANDOVER_SCREENSHOT")


def test_at_390_px_a_deactivated_owner_is_marked_and_the_referral_can_be_given_on(
    app: Flask, browser: Any, live_server: Any
) -> None:
    org = make_org_key()
    owner = give_key(make_user(Role.CASEWORKER, email="bob@example.org"), org)
    referral = sent_referral(owner=owner, org=org)
    owner.is_active_account = False
    admin = give_key(make_user(Role.ADMIN, email="admin@example.org"), org)
    alice = give_key(
        make_user(
            Role.CASEWORKER, email="maria.fernanda.long-address@frontline-partners.example.org"
        ),
        org,
    )
    db.session.commit()
    context = signed_in_context(
        browser,
        app,
        live_server.url,
        admin,
        viewport={"width": 390, "height": 844},
        bypass_csp=True,  # for axe only
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/referrals/{referral.id}?lang=zh_Hant")
        assert page.locator("[data-owner-deactivated]").is_visible()
        assert "admin@example.org" in page.locator("[data-owner-stand-in]").inner_text()
        assert no_horizontal_scroll(page)
        for selector in ("#owner_id", "[data-owner-form] button"):
            box = page.locator(selector).bounding_box()
            assert box is not None, selector
            assert box["x"] >= 0, selector
            assert box["x"] + box["width"] <= 390, (selector, box)
        assert_accessible(page, "the referral page with a deactivated owner")
        if SCREENSHOT:
            page.screenshot(path=f"{SCREENSHOT}-referral.png", full_page=False)
        page.select_option("#owner_id", str(alice.id))
        page.locator("[data-owner-form] button").click()
        page.wait_for_selector("[data-owner-email]")
        assert page.locator("[data-owner-deactivated]").count() == 0
        db.session.expire_all()
        assert db.session.get_one(Referral, referral.id).owner_id == alice.id
    finally:
        context.close()
