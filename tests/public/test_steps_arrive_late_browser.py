"""The reviewer's scenario on 2G (real Chromium, 360 px): the long form is on screen and typed
in long before steps.js arrives. When it ran, it showed step 1 and hid the step being written
in: the focus went to the page and the next words were lost; in step 1 the text box jumped
down (the progress line came in above it). Now it opens on the step of the field being
written in, with the focus and the caret where they were, and the field stays in place.

steps.js (and the scripts after it) are held back by the test until it lets them go."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.builders import make_org_key
from tests.public.test_early_send_browser import FORM_SCRIPTS, SlowScripts, _phone

pytestmark = pytest.mark.browser

CARET = "() => [document.activeElement.id, document.activeElement.selectionStart]"
TOP = "(id) => document.getElementById(id).getBoundingClientRect().top"


def _long_form(page: Any, base: str, locale: str) -> SlowScripts:
    slow = SlowScripts(FORM_SCRIPTS)
    page.route("**/*", slow)
    page.goto(f"{base}/request?lang={locale}", wait_until="commit")
    slow.wait_until_held(page)
    expect(page.locator("#step-progress")).to_be_hidden()
    return slow


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_writing_in_step_two_when_the_steps_arrive_keeps_that_step_the_focus_and_the_caret(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = _phone(browser)
    try:
        page = context.new_page()
        slow = _long_form(page, live_server.url, locale)
        page.click("#consent_by")
        page.keyboard.type("Maria, her sister")
        for _ in range(7):
            page.keyboard.press("ArrowLeft")  # the caret after "Maria, her", mending it
        assert page.evaluate(CARET) == ["consent_by", 10]

        slow.release()
        expect(page.locator("#step-progress")).to_be_visible()
        expect(page.locator("[data-step='2']")).to_be_visible()
        expect(page.locator("[data-step='1']")).to_be_hidden()
        expect(page.locator("#step-progress-text")).to_contain_text("2")
        assert page.evaluate(CARET) == ["consent_by", 10]
        page.keyboard.type(" and")  # nothing typed next is lost
        expect(page.locator("#consent_by")).to_have_value("Maria, her and sister")
    finally:
        context.close()


def test_a_step_two_answer_typed_before_the_steps_arrive_opens_that_step_after_a_tap_away(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """No focus in the form (a tap on the page, to read): the step last typed in opens."""
    make_org_key()
    context = _phone(browser)
    try:
        page = context.new_page()
        slow = _long_form(page, live_server.url, "en")
        page.fill("#what_happened", "Detained at the checkpoint.")
        page.click("#consent_by")
        page.keyboard.type("Maria")
        page.evaluate("() => document.activeElement.blur()")

        slow.release()
        expect(page.locator("#step-progress")).to_be_visible()
        expect(page.locator("[data-step='2']")).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("scrolled", [False, True])
def test_writing_in_step_one_when_the_steps_arrive_the_text_box_stays_where_it_is(
    app: Flask, live_server: Any, browser: Any, scrolled: bool
) -> None:
    make_org_key()
    context = _phone(browser)
    try:
        page = context.new_page()
        slow = _long_form(page, live_server.url, "en")
        if scrolled:
            page.evaluate("() => window.scrollTo(0, 120)")
        page.locator("#what_happened").focus()
        page.keyboard.type("They took my phone")
        before = page.evaluate(TOP, "what_happened")

        slow.release()
        expect(page.locator("#step-progress")).to_be_visible()
        after = page.evaluate(TOP, "what_happened")
        assert abs(after - before) <= 2, f"the text box moved {after - before:.0f} px"
        assert page.evaluate(CARET) == ["what_happened", len("They took my phone")]
        page.keyboard.type(" at the border.")
        expect(page.locator("#what_happened")).to_have_value("They took my phone at the border.")
    finally:
        context.close()
