"""The keyboard's place and what a screen reader is told, in real Chromium (a keyboard review of
the caseworker's pages): the header's unlock panel closes on Escape and when the focus moves on,
locking and unlocking keep the focus in the header, a message after an action takes the focus,
the queue's sort links are seen when tabbed to on a phone, and a decrypted request is not read
aloud by itself."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import expect

from intake.models import Role
from tests.auth.test_browser_keys import ADMIN_EMAIL, admin_with_org_key
from tests.browser_steps import sign_in_and_unlock
from tests.builders import (
    DEFAULT_PASSWORD,
    make_case,
    make_org_key,
    make_staff_with_keys,
    make_user,
    sign_in,
    signed_in_context,
)

pytestmark = pytest.mark.browser


def focused(page: Any, selector: str) -> bool:
    return bool(page.evaluate("(s) => document.activeElement.matches(s)", selector))


def test_the_header_keeps_the_keyboards_place_through_lock_unlock_and_its_panel(
    app: Flask, live_server: Any, page: Any
) -> None:
    admin, _ = admin_with_org_key(app)
    sign_in_and_unlock(page, live_server.url, ADMIN_EMAIL, DEFAULT_PASSWORD, admin.totp_secret)
    panel = page.locator("[data-unlock-panel]")

    page.focus("[data-lock-button]")
    page.keyboard.press("Enter")
    expect(page.locator("#lock-state")).not_to_have_class("lock-state is-unlocked")
    assert focused(page, "[data-unlock-panel] summary")  # not the page's start

    page.keyboard.press("Enter")  # opens the panel
    expect(page.locator("#lock-state-password")).to_be_visible()
    page.keyboard.press("Escape")
    assert panel.evaluate("(node) => node.open") is False
    assert focused(page, "[data-unlock-panel] summary")

    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the password
    assert focused(page, "#lock-state-password")
    page.keyboard.press("Tab")  # Unlock
    page.keyboard.press("Tab")  # on, out of the panel: it no longer covers what is focused
    assert not focused(page, "[data-unlock-panel] *")
    assert panel.evaluate("(node) => node.open") is False

    page.focus("[data-unlock-panel] summary")
    page.keyboard.press("Enter")
    page.fill("#lock-state-password", DEFAULT_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#lock-state.is-unlocked", state="attached", timeout=30_000)
    assert focused(page, "[data-lock-button]")


def test_a_message_after_an_action_takes_the_focus(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    me, _ = make_staff_with_keys(Role.CASEWORKER, org)
    case = make_case(org)
    context = signed_in_context(browser, app, live_server.url, me)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/cases/{case.ref}?lang=en")
        page.click("[data-assign-me]")
        flashes = page.locator("main > .flashes")
        expect(flashes).to_contain_text("Assigned")
        page.wait_for_function("document.activeElement.matches('main > .flashes')")
        # The next stop is in the page, not the header's first link.
        page.keyboard.press("Tab")
        assert not focused(page, "header *")
    finally:
        context.close()


def test_the_queues_sort_links_are_seen_when_tabbed_to_on_a_phone(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    me = make_user(Role.CASEWORKER)
    make_case(org)
    context = signed_in_context(
        browser, app, live_server.url, me, viewport={"width": 390, "height": 844}
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/cases/?view=all&lang=en")
        header = page.locator(".case-table thead")
        assert (header.bounding_box() or {"width": 0})["width"] <= 1  # cards say their labels
        page.locator(".case-table thead a").first.focus()
        box = header.bounding_box()
        assert box is not None
        assert box["x"] >= 0, box
        assert box["width"] > 300, box
        page.keyboard.press("Tab")
        assert focused(
            page, ".case-table thead a:nth-child(1), .case-table thead th:nth-child(2) a"
        )
        assert (header.bounding_box() or {"width": 0})["width"] > 300  # still seen
    finally:
        context.close()


def test_a_refused_un_step_and_a_search_say_so_where_the_focus_is(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """A refused step's page opens at #step-…, where the browser applies no autofocus: its error
    stayed unfocused and unread. A search that finds nothing put the focus on an empty count."""
    from tests.referrals.conftest import draft_un_referral

    referral = draft_un_referral()
    me = make_user(Role.CASEWORKER)
    context = signed_in_context(browser, app, live_server.url, me)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/referrals/{referral.id}?lang=en")
        page.fill("#at-submitted", "2099-01-01T10:00")
        with page.expect_navigation():
            page.click("#record-submitted")
        assert "#step-submitted" in page.url
        page.wait_for_function("document.activeElement.matches('[data-step-error]')")

        page.goto(f"{live_server.url}/cases/?view=all&q=RF-NOTHING&lang=en")
        page.wait_for_function("document.activeElement.matches('.empty-state')")
        assert "No case matches this search" in page.evaluate("document.activeElement.innerText")
    finally:
        context.close()


def test_a_decrypted_request_is_not_a_live_region(app: Flask, client: FlaskClient) -> None:
    """Filled in by the browser on every visit, it was read aloud whole: names, threats."""
    org = make_org_key()
    case = make_case(org)
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/cases/{case.ref}").text
    answers = page[page.index('id="answers"') :].split(">", 1)[0]
    assert "aria-live" not in answers
