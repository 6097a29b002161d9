"""The reviewer's scenario on a slow phone link (2G, real Chromium, 360 px): the form is on
screen and typed in seconds before the scripts that seal it have arrived (libsodium, about
400 KB, ran at 21 s). Send pressed then posted the plain form, as without JavaScript, for the
server to seal, without a word. Now a press of Send waits, "Preparing the encryption…" said
beside it, and the request goes sealed by the browser as soon as it can; a language button
waits too (without JavaScript it posts the form); nothing is ever posted in the clear while
JavaScript runs, and where this browser cannot seal, the person is told before it is.

The slow link is a script held back by the test (page.route) until it lets it go: the same
order of events as on 2G, without waiting 20 s for it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from intake.extensions import db
from intake.models import Case
from intake.services.submissions import SealedBy
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import PHONE, fill_required_answers
from tests.public.test_follow_up_token_browser import _case_with_a_thread

pytestmark = pytest.mark.browser

PREPARING = "Preparing the encryption… Your request will be sent as soon as it is ready."
PREPARING_MESSAGE = "Preparing the encryption… Your message will be sent as soon as it is ready."
LANGUAGE_WAITS = "The page is still loading. It will change language as soon as it is ready."
NOT_PREPARED = "Your browser could not prepare the encryption."
LIBSODIUM = ("libsodium-public.js", "libsodium-wrappers-public.js")  # the standard build
# The request form's own scripts, from steps.js on (they come after it on the page).
FORM_SCRIPTS = ("steps.js", "error-lead.js", "answer-length.js", "file-picker.js", "intake.js",
                "urgent-help.js", *LIBSODIUM)  # fmt: skip


class SlowScripts:
    """page.route handler: the named static files are held (a slow link) until released;
    every POST is noted, with its content type."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.held: list[Any] = []
        self.posts: list[str] = []
        self.holding = True  # until released: the next pages have their scripts at once

    def __call__(self, route: Any) -> None:
        request = route.request
        if request.method == "POST":
            self.posts.append(f"{urlsplit(request.url).path} {request.headers.get('content-type')}")
        name = urlsplit(request.url).path.rsplit("/", 1)[-1]
        if self.holding and request.method == "GET" and name in self.names:
            self.held.append(route)
            return
        route.continue_()

    def wait_until_held(self, page: Any) -> None:
        for _tick in range(400):  # route handlers run while Playwright is called: poll
            if len(self.held) >= len(self.names):
                return
            page.wait_for_timeout(25)
        raise AssertionError(f"only {len(self.held)} of {self.names} were asked for")

    def release(self, fail: bool = False) -> None:
        self.holding = False
        for route in self.held:
            if fail:
                route.abort("connectionreset")
            else:
                route.continue_()
        self.held.clear()


def _phone(browser: Any, locale: str = "en-GB") -> Any:
    return browser.new_context(viewport=PHONE, locale=locale)


def _the_case_sealed_by() -> SealedBy:
    db.session.rollback()
    case = db.session.scalars(sa.select(Case)).one()
    return case.sealed_by


def test_send_pressed_before_libsodium_arrived_waits_then_goes_sealed_by_the_browser(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = _phone(browser)
    try:
        page = context.new_page()
        slow = SlowScripts(LIBSODIUM)
        page.route("**/*", slow)
        page.goto(f"{live_server.url}/request", wait_until="commit")
        slow.wait_until_held(page)
        # The steps and the checks work while libsodium is still on its way.
        fill_required_answers(page)

        page.click("#send-request")
        status = page.locator("#send-status")
        expect(status).to_have_text(PREPARING)
        expect(status).to_be_in_viewport()
        page.wait_for_timeout(500)
        assert slow.posts == [], "nothing is posted before it is sealed"
        assert table_count("cases") == 0

        slow.release()
        expect(page.locator("#receipt-panel")).to_be_visible()
        assert [post.split()[0] for post in slow.posts] == ["/request"]
        assert _the_case_sealed_by() is SealedBy.BROWSER
    finally:
        context.close()


def test_send_pressed_before_any_script_ran_is_held_and_an_answer_changed_calls_it_off(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Before steps.js and intake.js: the long form, typed in and sent. The press is held
    (send-guard.js, the page's first script), and goes once they are there; typing after it
    calls it off, and only the next press sends."""
    make_org_key()
    context = _phone(browser)
    try:
        page = context.new_page()
        slow = SlowScripts(FORM_SCRIPTS)
        page.route("**/*", slow)
        page.goto(f"{live_server.url}/request", wait_until="commit")
        slow.wait_until_held(page)
        expect(page.locator("#step-progress")).to_be_hidden()  # the long form, no steps yet
        page.fill("#what_happened", "Detained at the checkpoint, phone taken.")
        page.check("input[name=urgency][value=days]")
        page.check("input[name=consent][value=yes]")
        page.check("input[name=referral_consent][value=yes]")

        page.click("#send-request")
        expect(page.locator("#send-status")).to_have_text(PREPARING)
        page.type("#what_happened", " They kept it.")  # a second thought: not sent as it was
        expect(page.locator("#send-status")).to_have_text("")
        page.click("#send-request")
        expect(page.locator("#send-status")).to_have_text(PREPARING)
        page.wait_for_timeout(500)
        assert slow.posts == [], "nothing is posted in the clear"

        slow.release()
        expect(page.locator("#receipt-panel")).to_be_visible()
        assert [post.split()[0] for post in slow.posts] == ["/request"]
        assert _the_case_sealed_by() is SealedBy.BROWSER
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["ar", "zh_Hans"])
def test_a_language_button_pressed_before_the_scripts_ran_changes_language_and_posts_nothing(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    """Without JavaScript a language button posts the form, answers and all, to show it again;
    while JavaScript runs it waits for steps.js, which keeps the answers in the tab."""
    make_org_key()
    context = _phone(browser)
    try:
        page = context.new_page()
        slow = SlowScripts(FORM_SCRIPTS)
        page.route("**/*", slow)
        page.goto(f"{live_server.url}/request", wait_until="commit")
        slow.wait_until_held(page)
        page.fill("#what_happened", "Detained at the checkpoint.")
        page.click(f"button[data-language-url][lang={locale.replace('_', '-')}]")
        expect(page.locator("#language-status")).to_have_text(LANGUAGE_WAITS)
        page.wait_for_timeout(300)
        assert slow.posts == []

        slow.release()
        expect(page).to_have_url(f"{live_server.url}/request?lang={locale}")
        expect(page.locator("#step-progress")).to_be_visible()  # steps.js ran, put them back
        expect(page.locator("#what_happened")).to_have_value("Detained at the checkpoint.")
        assert slow.posts == [], "the answers never went to the server"
    finally:
        context.close()


def _status_page(page: Any, base: str, code: str, slow: SlowScripts) -> None:
    page.route("**/*", slow)
    page.goto(f"{base}/status")
    page.fill("#code", code)
    page.click("main button[type=submit]")
    page.wait_for_selector("#follow-up-form")
    slow.wait_until_held(page)


def test_a_follow_up_sent_before_libsodium_arrived_waits_then_goes_sealed(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = _phone(browser)
    try:
        page = context.new_page()
        slow = SlowScripts(LIBSODIUM)
        _status_page(page, live_server.url, code, slow)
        posts_before = len(slow.posts)  # the code's own post, which opened this page
        page.fill("#body", "They came back today.")
        page.click("#send-follow-up")
        expect(page.locator("#send-status")).to_have_text(PREPARING_MESSAGE)
        page.wait_for_timeout(500)
        assert slow.posts[posts_before:] == [], "the message is not posted in the clear"

        slow.release()
        expect(page.locator("#send-status")).to_have_text("Your message was sent securely.")
        sent = slow.posts[posts_before:]
        assert [post.split()[0] for post in sent] == ["/status/follow-up"]
        expect(page.locator("#thread li").last).to_contain_text("They came back today.")
    finally:
        context.close()


def test_where_libsodium_cannot_load_a_follow_up_is_posted_for_the_server_only_when_told(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """libsodium blocked: status.js stands aside and the form posts as without JavaScript, but
    not silently: the first press says so, the next one posts it."""
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = _phone(browser)
    try:
        page = context.new_page()
        slow = SlowScripts(LIBSODIUM)
        _status_page(page, live_server.url, code, slow)
        posts_before = len(slow.posts)
        page.fill("#body", "They came back today.")
        page.click("#send-follow-up")
        expect(page.locator("#send-status")).to_have_text(PREPARING_MESSAGE)
        slow.release(fail=True)
        expect(page.locator("#send-status")).to_contain_text(NOT_PREPARED)
        assert slow.posts[posts_before:] == []

        page.click("#send-follow-up")
        expect(page.locator("#follow-up-sent")).to_be_visible()  # the page without JavaScript's
        assert [post.split()[0] for post in slow.posts[posts_before:]] == ["/status/follow-up"]
    finally:
        context.close()
