"""Without JavaScript (Tor Browser at "Safest"), in real Chromium at 360 px: Back from the
receipt brings the form back filled in, and sending it again filed a second case with a second
code, because the page came with a new submission token. The form now carries the token of the
request this browser sent, and sending the same answers again shows the same receipt, which says
nothing was filed twice. The form itself says nothing of it: a GET cannot tell Back from a new
visit, and a new visit to /request within half an hour was told "you sent a request from this
browser a moment ago" (a review). Other answers are a request of their own."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import canary_for, phone_context

pytestmark = pytest.mark.browser

ADVICE = {
    "en": "go back with your browser's Back button and press “Send securely” again",
    "ar": "واضغط «إرسال بأمان» مرة أخرى دون تغيير أي شيء",
}


def _fill_and_send(page: Any, what_happened: str) -> str:
    page.fill("#what_happened", what_happened)
    page.check("input[name=urgency][value=days]")
    page.check("input[name=consent][value=yes]")
    page.check("input[name=referral_consent][value=yes]")
    page.click("#send-request")
    page.wait_for_selector("#receipt-code")
    return page.inner_text("#receipt-code").strip()


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_back_then_send_again_without_javascript_files_one_case_with_the_same_receipt(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, False, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        expect(page.locator("#sent-before")).to_have_count(0)
        first = _fill_and_send(page, canary_for("what_happened"))
        assert table_count("cases") == 1
        expect(page.locator("#receipt-sent-again")).to_have_count(0)
        # A reload (a phone discarding the tab) finds the receipt gone, and the page says to
        # do what follows; it sent the person to file a new request "referring to the first",
        # which they could not do without the code.
        page.reload()
        gone = page.locator("#receipt-gone").inner_text()
        assert ADVICE[locale] in gone
        assert first not in gone
        # Back past a refused Send lands on a posted page the browser asks to post again.
        assert ("asks whether to send the form again" in gone) == (locale == "en")

        page.go_back()
        expect(page.locator("#what_happened")).to_be_visible()
        expect(page.locator("#sent-before")).to_have_count(0)
        again = _fill_and_send(page, canary_for("what_happened"))
        assert again == first
        assert table_count("cases") == 1
        # The receipt of the same answers sent again says so; a first receipt did not.
        expect(page.locator("#receipt-sent-again")).to_be_visible()

        # A new visit, minutes later: a fresh form, not told it sent anything; a different
        # request is filed as a second case with its own code, and its receipt is a first.
        page.goto(f"{live_server.url}/request?lang={locale}")
        expect(page.locator("#what_happened")).to_have_value("")
        expect(page.locator("#sent-before")).to_have_count(0)
        second = _fill_and_send(page, "Another person was detained today.")
        assert second != first
        assert table_count("cases") == 2
        expect(page.locator("#receipt-sent-again")).to_have_count(0)
    finally:
        context.close()


def test_with_javascript_the_tab_keeps_its_own_receipt_and_no_notice_is_shown(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """The notice is for the page without JavaScript: with it, intake.js keeps the receipt and
    the token in the tab, and the server's token is not what it sends."""
    make_org_key()
    context = phone_context(browser, False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request")
        _fill_and_send(page, canary_for("what_happened"))
        cookies = context.cookies()
    finally:
        context.close()
    context = phone_context(browser, True)
    try:
        context.add_cookies(cookies)  # the same browser, JavaScript turned on since
        page = context.new_page()
        page.goto(f"{live_server.url}/request")
        expect(page.locator("#what_happened")).to_be_visible()
        assert page.locator("#sent-before").count() == 0  # inside <noscript>: not shown
    finally:
        context.close()
