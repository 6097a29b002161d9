"""The queue's search box in real Chromium, with and without JavaScript: without it, words are
not sent (the box takes a reference only, and the hint says so); with it, the hint promises
what case-queue.js keeps (words keyed in the browser) and the box takes words."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus, urlsplit

import pytest
from flask import Flask

from intake.models import Role
from tests.builders import make_case, make_org_key, make_user, signed_in_context

pytestmark = pytest.mark.browser

WORDS = "María López"
SECRETS = ("maría", "maria", "lópez", "lopez")
PROMISE = "the server never sees them"


def recorded(page: Any) -> list[str]:
    """Every request the page makes from now on (its URL and body), but for the browser's own
    fetches of static files, which carry nothing typed: the favicon is asked for after the
    page has loaded, at a moment of Chromium's choosing, and made this test fail now and then."""
    seen: list[str] = []

    def record(request: Any) -> None:
        if urlsplit(request.url).path.startswith("/static/"):
            return
        seen.append(unquote_plus(request.url + (request.post_data or "")).lower())

    page.on("request", record)
    return seen


def test_without_javascript_words_are_not_sent_and_the_hint_says_a_reference(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    case = make_case(org, ref="RF-7K2M-QQQQ")
    other = make_case(org, ref="RF-9ZZZ-WWWW")
    user = make_user(Role.CASEWORKER)
    context = signed_in_context(
        browser, app, live_server.url, user, java_script_enabled=False, locale="en-GB"
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/cases/?view=all")
        seen = recorded(page)
        assert page.locator("#q-hint").is_visible()
        assert "A case reference, like RF-7K2M." in page.inner_text("#q-hint")
        assert page.locator("#q-hint-keyed").is_hidden()
        assert PROMISE not in page.inner_text("main")

        # Words: the browser refuses to send the form (the box's pattern); nothing leaves.
        page.fill("#q", WORDS)
        page.click("#queue-search button[type=submit]")
        page.wait_for_timeout(500)
        assert page.url == f"{live_server.url}/cases/?view=all"
        assert page.locator("#q:invalid").count() == 1
        assert not [url for url in seen if any(secret in url for secret in SECRETS)], seen
        assert seen == []

        # A reference is searched by the server, in either case.
        page.fill("#q", "rf-7k2m")
        with page.expect_navigation():
            page.click("#queue-search button[type=submit]")
        assert "q=rf-7k2m" in page.url
        rows = page.locator("tr.case-row").evaluate_all("rows => rows.map(r => r.dataset.ref)")
        assert rows == [case.ref]
        assert other.ref not in rows
    finally:
        context.close()


def test_with_javascript_the_hint_promises_what_the_script_keeps(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_case(make_org_key())
    user = make_user(Role.CASEWORKER)
    context = signed_in_context(browser, app, live_server.url, user, locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/cases/?view=all")
        page.wait_for_selector("#q-hint-keyed:visible")
        assert PROMISE in page.inner_text("#q-hint-keyed")
        assert page.locator("#q-hint").is_hidden()
        assert page.get_attribute("#q", "aria-describedby") == "q-hint-keyed"
        assert page.get_attribute("#q", "pattern") is None  # words are taken, and keyed
        # Keys locked here: the words are not sent either; the page says what to do.
        seen = recorded(page)
        page.fill("#q", WORDS)
        page.click("#queue-search button[type=submit]")
        page.wait_for_selector("[data-search-error]:visible")
        assert "Unlock your keys" in page.inner_text("[data-search-error]")
        assert not [url for url in seen if any(secret in url for secret in SECRETS)], seen
    finally:
        context.close()
