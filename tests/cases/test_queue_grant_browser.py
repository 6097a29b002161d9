"""A colleague who signed in before an admin gave them the organisation key: once the grant is
made (in the admin's own browser), their queue says they can read cases, at the latest on its
next load, and on a page already open once the tab's keyring has the key.

In real Chromium with the real keyring (no stand-in): the header kept "Keys unlocked, but no
access to cases yet" after the grant on every page without a row to open (an empty tab, the
referrals), and an open queue kept "You cannot read cases yet" and its rows unreadable, until a
page with a row made the keyring fetch the grant."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake.extensions import db
from intake.models import CaseSearchIndex, Role
from tests.browser_steps import unlock_in_header
from tests.builders import (
    give_key,
    make_case,
    make_org_key,
    make_staff_with_keys,
    signed_in_context,
)

pytestmark = pytest.mark.browser

NO_ACCESS = "Keys unlocked, but no access to cases yet"
HEADER_IS = "(text) => document.querySelector('[data-lock-status]').textContent === text"


def header(page: Any) -> str:
    return str(page.locator("[data-lock-status]").text_content())


def notice_shown(page: Any) -> bool:
    notice = page.locator("[data-no-key]")
    return bool(notice.count() and notice.is_visible())


def unlocked_queue(browser: Any, app: Flask, base: str, user: Any, rows: str) -> Any:
    """The whole queue for ``user``, keys unlocked in the header, once its rows are ``rows``
    (open, unreadable)."""
    context = signed_in_context(browser, app, base, user, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/cases/?view=all")
    unlock_in_header(page)
    page.wait_for_selector(f"tr.case-row[data-person-state={rows}]")
    return page


def test_a_grant_made_in_an_admins_browser_reaches_the_open_queue(
    app: Flask, live_server: Any, browser: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, None, email="new.colleague@example.org")
    for _ in range(2):
        make_case(org, {"victim_name": "Someone", "what_happened": "x"})
    theirs = signed_in_context(browser, app, base, colleague, locale="en-GB")
    admins = signed_in_context(browser, app, base, admin, locale="en-GB")
    try:
        page = theirs.new_page()
        page.set_default_timeout(30_000)
        page.clock.install()
        page.goto(f"{base}/cases/?view=all")
        unlock_in_header(page)
        page.wait_for_selector("tr.case-row[data-person-state=unreadable]")
        assert header(page) == NO_ACCESS
        assert notice_shown(page)

        admin_page = admins.new_page()
        admin_page.set_default_timeout(30_000)
        admin_page.goto(f"{base}/admin/keys")
        unlock_in_header(admin_page)
        with admin_page.expect_navigation():
            admin_page.click("form[data-grant-form] button[type=submit]")
        assert "can now open cases" in admin_page.locator(".flash").inner_text()

        # The colleague comes back to their tab (not reloaded): the keyring is asked again,
        # and the header, the notice and the rows follow the grant.
        page.clock.fast_forward(16_000)
        page.evaluate(
            """() => {
              Object.defineProperty(document, "visibilityState",
                                    { value: "visible", configurable: true });
              document.dispatchEvent(new Event("visibilitychange"));
            }"""
        )
        page.wait_for_function(HEADER_IS, arg="Keys unlocked", timeout=15_000)
        page.wait_for_selector("[data-no-key]", state="hidden", timeout=15_000)
        page.wait_for_selector("tr.case-row[data-person-state=open]")
        assert page.locator("tr.case-row[data-person-state=unreadable]").count() == 0
    finally:
        theirs.close()
        admins.close()


@pytest.mark.parametrize("view", ["mine", "all"])
@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.VIEWER])
def test_after_a_grant_the_next_load_of_the_queue_says_the_keys_open_cases(
    app: Flask, live_server: Any, browser: Any, view: str, role: Role
) -> None:
    """On the next load of any list, a row to open or none ("Mine" is empty here). The case
    is searchable already: a caseworker's browser has nothing to index in the background
    (which, opening a case, fetched the grant too, a while after the page loaded)."""
    base = live_server.url
    org = make_org_key()
    colleague, _ = make_staff_with_keys(role, None, email="new.colleague@example.org")
    case = make_case(org, {"victim_name": "Someone", "what_happened": "x"})
    db.session.add(CaseSearchIndex(case_id=case.id, org_key_id=org.key.id))
    db.session.commit()
    context = signed_in_context(browser, app, base, colleague, locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/cases/?view={view}")
        unlock_in_header(page)
        assert header(page) == NO_ACCESS
        assert notice_shown(page)

        give_key(colleague, org)  # an admin's grant, made elsewhere
        page.reload()
        assert not notice_shown(page)  # the server knows at once
        page.wait_for_function(HEADER_IS, arg="Keys unlocked", timeout=10_000)
        if view == "all":
            page.wait_for_selector("tr.case-row[data-person-state=open]")
        # And the keyring holds it for the next page, which has no case to ask it for.
        page.goto(f"{base}/referrals/")
        page.wait_for_function(HEADER_IS, arg="Keys unlocked", timeout=10_000)
    finally:
        context.close()


def test_a_revoked_grant_is_still_said_while_the_tab_holds_the_old_key(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """The notice goes only for a key the tab gains: a keyring unlocked before the grant was
    revoked still holds the key, and the page says why it will stop at this tab."""
    from intake.db import utcnow
    from intake.models import KeyGrant

    base = live_server.url
    org = make_org_key()
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, org, email="colleague@example.org")
    make_case(org, {"victim_name": "Someone", "what_happened": "x"})
    page = unlocked_queue(browser, app, base, colleague, "open")
    try:
        grant = db.session.scalars(db.select(KeyGrant)).one()
        grant.revoked_at = utcnow()
        db.session.commit()
        page.reload()
        page.wait_for_selector("tr.case-row[data-person-state=open]")
        assert notice_shown(page)
        assert "any more" in page.locator("[data-no-key]").inner_text()
    finally:
        page.context.close()


def test_a_page_without_cases_follows_a_grant_and_asks_at_most_once_a_minute(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """The header of a page with no case to open (the referrals) kept "no access to cases yet"
    after the grant: the keyring asks for grants as such a page loads, once a minute at most
    (each fetch of the keyring is audited)."""
    base = live_server.url
    org = make_org_key()
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, None, email="new.colleague@example.org")
    context = signed_in_context(browser, app, base, colleague, locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.clock.install()
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/auth/keyring" in r.url else None)
        page.goto(f"{base}/referrals/")
        unlock_in_header(page)
        assert header(page) == NO_ACCESS
        page.reload()  # the first load unlocked: asks once, finds nothing yet
        page.wait_for_function(HEADER_IS, arg=NO_ACCESS)
        page.wait_for_timeout(500)
        before = len(asked)
        page.reload()  # within the minute: not asked again
        page.wait_for_function(HEADER_IS, arg=NO_ACCESS)
        page.wait_for_timeout(500)
        assert len(asked) == before

        give_key(colleague, org)  # an admin's grant, made elsewhere
        page.clock.fast_forward(61_000)
        page.reload()
        page.wait_for_function(HEADER_IS, arg="Keys unlocked", timeout=10_000)
    finally:
        context.close()


def test_a_search_by_name_before_the_grant_says_the_key_is_missing(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Unlocked but not granted the organisation key, a colleague searching "Sample person 16"
    was told to type at least two letters (an admin's walkthrough): the words were fine."""
    base = live_server.url
    org = make_org_key()
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, None, email="new.colleague@example.org")
    make_case(org, {"victim_name": "Sample person", "what_happened": "x"}, ref="RF-NOGRANT1")
    page = unlocked_queue(browser, app, base, colleague, "unreadable")
    try:
        error = page.locator("[data-search-error]")
        page.fill("#q", "Sample person 16")
        page.click("#queue-search button[type=submit]")
        page.wait_for_selector("[data-search-error]:not([hidden])")
        assert "which you have not been granted yet: ask an admin" in error.inner_text()
        assert "/cases/?view=all" in page.url  # nothing was sent
        # Too little to search is still said as such.
        page.fill("#q", "a")
        page.click("#queue-search button[type=submit]")
        assert error.inner_text().startswith("Type at least two letters")
        # A reference is searched at once.
        page.fill("#q", "rf nogrant1")
        with page.expect_navigation():
            page.click("#queue-search button[type=submit]")
        assert page.locator("tr.case-row").count() == 1
    finally:
        page.context.close()
