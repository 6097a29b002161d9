"""The reviewer's scenario on a slow phone link (real Chromium, 360 px): the request left, then
the link went silent. "Encrypting and sending…" stayed for ever, Send disabled (180 s and more).
An upload on a slow link legitimately takes a minute, so there is no fixed short time limit:
the line beside Send says how much has gone ("Sending: 40%", Slow 3G), and a link silent for
45 s (no answer 60 s after the last byte) is given up: everything typed and the files stay,
and the page says the connection stalled and that pressing Send again is safe. Pressed again,
the request is filed once (its submission token), and so is a follow-up on /status.

The silence is a POST that reaches the server (route.fetch) and whose answer never comes; the
minute passes on the page's clock (page.clock), not the test's."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import fill_required_answers
from tests.public.test_early_send_browser import _phone
from tests.public.test_follow_up_busy_browser import _follow_ups
from tests.public.test_follow_up_token_browser import _case_with_a_thread

pytestmark = pytest.mark.browser

STALLED = "The connection stalled, so sending was stopped."
STALLED_SAFE = "It is safe to press “Send securely” again: your request will not be filed twice."
STALLED_MESSAGE = "Your message and files are still in the form."
PROGRESS = re.compile(r"^Encrypted\. Sending: \d{1,2}%$")
A_MINUTE_AND_MORE = 61_000
# Slow 3G as the review had it: 400 ms, 400 kbit/s.
SLOW_3G = {
    "offline": False,
    "latency": 400,
    "downloadThroughput": 50_000,
    "uploadThroughput": 50_000,
}


class SilentAfterArrival:
    """page.route handler: the first POST reaches the server (which files it), and its answer
    never comes back (a link gone silent); later ones pass."""

    def __init__(self) -> None:
        self.delivered: list[int] = []
        self.posts = 0

    def __call__(self, route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        self.posts += 1
        if not self.delivered:
            self.delivered.append(route.fetch().status)
            return  # and never answered
        route.continue_()


def _evidence(tmp_path: Path, size: int = 2_000) -> Path:
    photo = tmp_path / "checkpoint.jpg"
    photo.write_bytes(os.urandom(size))
    return photo


def _files_chosen(page: Any) -> int:
    return int(page.evaluate("() => document.getElementById('attachments').files.length"))


def _wait_for(page: Any, done: Any) -> None:
    for _tick in range(400):  # route handlers run while Playwright is called: poll
        if done():
            return
        page.wait_for_timeout(25)
    raise AssertionError("never happened")


def test_a_request_whose_answer_never_comes_is_given_up_kept_and_filed_once_when_sent_again(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    make_org_key()
    context = _phone(browser)
    try:
        page = context.new_page()
        page.clock.install()
        silent = SilentAfterArrival()
        page.route(lambda url: urlsplit(url).path == "/request", silent)
        page.goto(f"{live_server.url}/request")
        page.fill("#what_happened", "Detained at the checkpoint.")
        fill_required_answers(page, what_happened=None)
        page.click("#step-back")
        page.set_input_files("#attachments", str(_evidence(tmp_path)))
        page.click("#step-next")

        page.click("#send-request")
        _wait_for(page, lambda: len(silent.delivered) == 1)
        page.clock.run_for(A_MINUTE_AND_MORE)

        summary = page.locator("#error-summary")
        expect(summary).to_contain_text(STALLED)
        expect(summary).to_contain_text(STALLED_SAFE)
        expect(page.locator("#send-request")).to_be_enabled()
        expect(page.locator("#intake-form")).not_to_have_attribute("aria-busy", "true")
        expect(page.locator("#send-status")).to_have_text("")
        expect(page.locator("#what_happened")).to_have_value("Detained at the checkpoint.")
        assert _files_chosen(page) == 1

        page.click("#send-request")
        expect(page.locator("#receipt-panel")).to_be_visible()
        assert silent.posts == 2
        assert table_count("cases") == 1
        assert table_count("case_attachments") == 1
    finally:
        context.close()


def test_on_slow_3g_the_line_beside_send_says_how_much_has_gone(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    make_org_key()
    context = _phone(browser)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request")
        fill_required_answers(page)
        page.click("#step-back")
        page.set_input_files("#attachments", str(_evidence(tmp_path, 200_000)))  # about 5 s
        page.click("#step-next")
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", SLOW_3G)

        page.click("#send-request")
        status = page.locator("#send-status")
        expect(status).to_have_text(PROGRESS, timeout=20_000)
        said = status.text_content() or ""
        expect(status).not_to_have_text(said, timeout=20_000)  # it moves on
        expect(page.locator("#receipt-panel")).to_be_visible(timeout=30_000)
    finally:
        context.close()


def test_a_follow_up_whose_answer_never_comes_is_given_up_kept_and_stored_once_when_sent_again(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    org = make_org_key()
    code = _case_with_a_thread(org)
    before = _follow_ups()
    context = _phone(browser)
    try:
        page = context.new_page()
        page.clock.install()
        silent = SilentAfterArrival()
        page.goto(f"{live_server.url}/status")
        page.fill("#code", code)
        page.click("main button[type=submit]")
        page.wait_for_selector("#follow-up-form")
        page.route(lambda url: urlsplit(url).path == "/status/follow-up", silent)
        page.fill("#body", "They came back today.")
        page.set_input_files("#attachments", str(_evidence(tmp_path)))

        page.click("#send-follow-up")
        _wait_for(page, lambda: len(silent.delivered) == 1)
        page.clock.run_for(A_MINUTE_AND_MORE)

        summary = page.locator("#error-summary")
        expect(summary).to_contain_text(STALLED)
        expect(summary).to_contain_text(STALLED_MESSAGE)
        expect(page.locator("#send-follow-up")).to_be_enabled()
        expect(page.locator("#body")).to_have_value("They came back today.")
        assert _files_chosen(page) == 1

        page.click("#send-follow-up")
        expect(page.locator("#send-status")).to_have_text("Your message was sent securely.")
        assert silent.posts == 2
        assert _follow_ups() == before + 1
    finally:
        context.close()
