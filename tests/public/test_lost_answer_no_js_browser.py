"""Without JavaScript in real Chromium on a phone: Send reaches the server, but its answer (the
303 to the receipt, and the cookie saying the request was sent) is lost on a cut link. The
person presses Back, finds the answers put back by the browser, and presses Send again. That
is one request: its receipt is shown, saying it was not sent twice, and one case exists (a
slow-link review found a second case, under a second code: the form fetched again on Back had
a new token)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake import crypto
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import phone_context

pytestmark = pytest.mark.browser

WHAT_HAPPENED = "Arrested at the checkpoint on Monday; my phone was taken."


class LoseTheAnswerOnce:
    """page.route handler: the first POST reaches the server (route.fetch, no redirect
    followed), then its answer is dropped; the cookies it set are taken back, as if they
    never arrived. Everything else passes."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.delivered: list[int] = []

    def __call__(self, route: Any) -> None:
        if route.request.method != "POST" or self.delivered:
            route.continue_()
            return
        before = self.context.cookies()
        response = route.fetch(max_redirects=0)
        self.delivered.append(response.status)
        self.context.clear_cookies()
        self.context.add_cookies(before)
        route.abort("connectionreset")


def test_back_and_send_after_a_lost_answer_files_the_request_once(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = phone_context(browser, javascript=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request")
        page.fill("#what_happened", WHAT_HAPPENED)
        page.check("input[name=urgency][value=days]")
        page.check("input[name=consent][value=yes]")
        page.check("input[name=referral_consent][value=yes]")
        lose = LoseTheAnswerOnce(context)
        page.route("**/request*", lose)
        page.click("#send-request")
        for _ in range(100):
            if lose.delivered:
                break
            page.wait_for_timeout(100)
        assert lose.delivered == [303]  # it was filed
        page.wait_for_url("chrome-error://**")  # Chromium's "This site can't be reached"
        assert "/receipt" not in page.url
        assert table_count("cases") == 1

        page.go_back()
        page.wait_for_selector("#what_happened")
        assert page.input_value("#what_happened") == WHAT_HAPPENED  # put back by Chromium
        page.click("#send-request")
        page.wait_for_selector("#receipt-code")
        assert crypto.normalise_receipt_code(page.inner_text("#receipt-code")) is not None
        assert page.locator("#receipt-sent-again").is_visible()
    finally:
        context.close()
    assert table_count("cases") == 1
