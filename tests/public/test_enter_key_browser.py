"""Enter in a one-line answer of the request form, in real Chromium.

The language buttons of the header belong to the form (without JavaScript they post it, to be
shown again in that language with what was typed), and they come first in the page: Enter in
any one-line field pressed the first of them, and the defender was suddenly reading another
language. Now Enter submits nothing (base.html's disabled first button); with JavaScript it
goes on to the next step, as a phone keyboard's "Go" promises."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.builders import make_org_key
from tests.public.conftest import phone_context

pytestmark = pytest.mark.browser


def _posts(page: Any) -> list[str]:
    posted: list[str] = []
    page.on(
        "request", lambda request: posted.append(request.url) if request.method == "POST" else None
    )
    return posted


@pytest.mark.parametrize("locale", ["zh_Hant", "en", "ar"])
def test_enter_goes_to_the_next_step_and_keeps_the_language(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, javascript=True, locale=locale)
    page = context.new_page()
    page.goto(f"{live_server.url}/request?lang={locale}")
    language = page.get_attribute("html", "lang")
    posted = _posts(page)
    page.fill("#what_happened", "Detained at the checkpoint; phone taken.")
    page.check("input[name=urgency][value=days]")
    page.fill("#sender_name", "Mei")
    page.press("#sender_name", "Enter")
    page.locator("section.form-step[data-step='2']").wait_for(state="visible")
    assert page.get_attribute("html", "lang") == language
    assert page.input_value("#sender_name") == "Mei"
    # On step 2, Enter before its required answers shows what is missing, beside the step.
    page.fill("#consent_by", "Mei herself")
    page.press("#consent_by", "Enter")
    page.wait_for_timeout(300)
    assert page.locator("section.form-step[data-step='2']").is_visible()
    assert page.get_attribute("html", "lang") == language
    assert posted == []  # nothing sent, no language post
    context.close()


def test_without_javascript_enter_submits_nothing(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = phone_context(browser, javascript=False, locale="zh_Hant")
    page = context.new_page()
    page.goto(f"{live_server.url}/request?lang=zh_Hant")
    posted = _posts(page)
    page.fill("#what_happened", "在檢查站被拘留。")
    page.fill("#sender_name", "梅")
    page.press("#sender_name", "Enter")
    page.wait_for_timeout(500)
    assert posted == []
    assert page.get_attribute("html", "lang") == "zh-Hant"
    assert page.input_value("#what_happened") == "在檢查站被拘留。"
    # The language buttons still post the form, with what was typed, when pressed.
    page.click("button[lang=en]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    assert page.input_value("#what_happened") == "在檢查站被拘留。"
    context.close()


def test_a_tap_on_an_optional_steps_title_does_not_fold_the_step_away(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Steps 3 and 4 are folds without JavaScript (optional parts); with it, each is a step of
    its own, and a natural tap on its title collapsed it, leaving only Back, Next and Skip."""
    make_org_key()
    context = phone_context(browser, javascript=True, locale="en")
    page = context.new_page()
    page.goto(f"{live_server.url}/request")
    page.fill("#what_happened", "Detained at the checkpoint; phone taken.")
    page.check("input[name=urgency][value=days]")
    page.click("#step-next")
    page.check("input[name=consent][value=yes]")
    page.check("input[name=referral_consent][value=yes]")
    page.click("#step-next")
    page.locator("#when_happened").wait_for(state="visible")
    page.click("#step-3-title")
    page.wait_for_timeout(200)
    assert page.locator("#when_happened").is_visible()
    page.click("#step-skip")
    page.locator("#step-4-title").click()
    page.wait_for_timeout(200)
    assert page.locator("#country").is_visible()
    context.close()
