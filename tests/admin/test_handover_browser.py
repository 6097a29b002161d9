"""The deactivation confirmation in real Chromium on a 390 px phone: it lists what the
colleague holds, its choice of colleague (a select outside the form, joined to it by its
``form`` attribute) is sent with the confirmation, and nothing is off the screen."""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask

from intake.extensions import db
from intake.models import Case, Role
from tests.builders import make_case, make_org_key, make_staff_with_keys, signed_in_context
from tests.public.test_accessibility import assert_accessible, no_horizontal_scroll

pytestmark = pytest.mark.browser

# Set to a path to keep a screenshot of the confirmation (for a reviewer's eyes).
SCREENSHOT = os.environ.get("HANDOVER_SCREENSHOT")


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_at_390_px_the_confirmation_asks_who_takes_over_and_sends_the_choice(
    app: Flask, browser: Any, live_server: Any, locale: str
) -> None:
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
    bob, _ = make_staff_with_keys(
        Role.CASEWORKER, org, email="bob.long-address@frontline-partners.example.org"
    )
    alice, _ = make_staff_with_keys(
        Role.CASEWORKER, org, email="maria.fernanda.long-address@frontline-partners.example.org"
    )
    cases = [make_case(org, assignee_id=bob.id) for _ in range(3)]
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
        page.goto(f"{live_server.url}/admin/users?lang={locale}")
        page.locator(f"[data-user-row='{bob.id}'] form[action$='/deactivate'] button").click()
        page.wait_for_selector("[data-handover]")
        assert page.locator("[data-holds-cases='3']").count() == 1
        assert no_horizontal_scroll(page)
        for selector in ("#successor", "[data-confirm-button]", "[data-cancel]"):
            box = page.locator(selector).bounding_box()
            assert box is not None, selector
            assert box["x"] >= 0, selector
            assert box["x"] + box["width"] <= 390, (selector, box)
        assert_accessible(page, f"the deactivation confirmation with holdings ({locale})")
        if SCREENSHOT:
            page.screenshot(path=f"{SCREENSHOT}-{locale}.png", full_page=True)
        page.select_option("#successor", str(alice.id))
        page.locator("[data-confirm-button]").click()
        page.wait_for_url(f"{live_server.url}/admin/users")
        db.session.expire_all()
        assert {db.session.get_one(Case, case.id).assignee_id for case in cases} == {alice.id}
    finally:
        context.close()
