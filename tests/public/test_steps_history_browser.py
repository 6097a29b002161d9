"""The phone's Back and Forward buttons on the request form, in real Chromium at 360 px: they
move between the steps gone through, as the form's own Back does, never out of the form with
what was typed; a reload opens the step it was on; once the request is sent, Back leaves the
page at once instead of stepping through steps that are gone."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.builders import make_org_key
from tests.public.conftest import canary_for, fill_required_answers, phone_context

pytestmark = pytest.mark.browser


def _on_step(page: Any, number: int) -> None:
    expect(page.locator(f"[data-step='{number}']")).to_be_visible()
    expect(page.locator(".form-step:visible")).to_have_count(1)
    assert urlsplit(page.url).path == "/request"


def _to_step_three(page: Any) -> None:
    """The first step answered, the second's consents given: on step 3."""
    page.fill("#what_happened", canary_for("what_happened"))
    page.check("input[name=urgency][value=days]")
    page.click("#step-next")
    _on_step(page, 2)
    page.check("input[name=consent][value=yes]")
    page.check("input[name=referral_consent][value=yes]")
    page.click("#step-next")
    _on_step(page, 3)


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_back_and_forward_move_between_steps_and_a_reload_keeps_the_step(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, True, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/status?lang={locale}")  # where the person came from
        page.goto(f"{live_server.url}/request?lang={locale}")
        _to_step_three(page)
        page.click("#step-skip")
        _on_step(page, 4)

        page.go_back()
        _on_step(page, 3)
        page.go_back()
        _on_step(page, 2)
        assert page.is_checked("input[name=consent][value=yes]")
        page.go_forward()
        _on_step(page, 3)

        # A reload comes back on the step it was on, with the answers.
        page.reload()
        _on_step(page, 3)
        assert page.input_value("#what_happened") == canary_for("what_happened")
        page.go_back()
        _on_step(page, 2)
        # The form's own Back is a step too: the phone's Back then returns to where it was.
        page.click("#step-back")
        _on_step(page, 1)
        page.go_back()
        _on_step(page, 2)
        page.go_back()
        _on_step(page, 1)
        assert page.input_value("#what_happened") == canary_for("what_happened")
        # Back from the first step leaves the form, as it came.
        page.go_back()
        page.wait_for_url("**/status*")
        page.go_forward()
        _on_step(page, 1)
        assert page.input_value("#what_happened") == canary_for("what_happened")
    finally:
        context.close()


def test_a_language_change_keeps_the_step_and_the_answers(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Switching to Spanish at step 3 brought the person back to "Step 1 of 5" (the answers
    were kept, the place was not)."""
    make_org_key()
    context = phone_context(browser, True)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=en")
        _to_step_three(page)
        page.click("button[data-language-url][lang='es']")
        page.wait_for_selector("html[lang='es']")
        _on_step(page, 3)
        assert page.input_value("#what_happened") == canary_for("what_happened")
        # A later visit to the form in this tab opens where it was, in its language.
        page.goto(f"{live_server.url}/request?lang=en")
        _on_step(page, 3)
        assert page.input_value("#what_happened") == canary_for("what_happened")
    finally:
        context.close()


def test_an_error_summary_link_is_a_step_in_the_history_too(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = phone_context(browser, True)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request")
        page.fill("#what_happened", canary_for("what_happened"))
        page.check("input[name=urgency][value=days]")
        page.click("#step-next")
        _on_step(page, 2)
        page.click("#step-next")  # nothing answered: the step says what is missing
        expect(page.locator("#error-summary")).to_be_visible()
        page.locator("#error-summary a").first.click()
        assert urlsplit(page.url).fragment == "consent-0"
        _on_step(page, 2)
        page.go_back()
        _on_step(page, 2)
        assert urlsplit(page.url).fragment == ""
        page.go_back()
        _on_step(page, 1)
        page.go_forward()
        _on_step(page, 2)
        page.go_forward()
        _on_step(page, 2)
        assert urlsplit(page.url).fragment == "consent-0"
    finally:
        context.close()


def test_after_sending_back_leaves_the_page_at_once(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = phone_context(browser, True)
    try:
        page = context.new_page()
        dialogs: list[str] = []

        def accept(dialog: Any) -> None:
            dialogs.append(dialog.type)
            dialog.accept()

        page.on("dialog", accept)
        page.goto(f"{live_server.url}/status")
        page.goto(f"{live_server.url}/request")
        page.click("#step-next")  # nothing answered: an error summary, and its link followed
        page.locator("#error-summary a").first.click()
        page.fill("#what_happened", canary_for("what_happened"))
        fill_required_answers(page, what_happened=None)  # four steps gone through
        page.click("#send-request")
        page.wait_for_selector("#receipt-code")
        code = page.inner_text("#receipt-code").strip()
        assert code
        page.go_back()
        page.wait_for_url("**/status*")
        # Leaving with a code not yet said to be written down asks first (receipt.js).
        assert dialogs == ["beforeunload"]
    finally:
        context.close()


def test_a_reload_after_the_server_was_unreachable_opens_the_step_it_was_on(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """The server down when the person reloads: the browser shows its own error page in the
    form's entry, which loses the entry's step, and the next reload opened the form at step 1
    (the answers kept). It opens the step kept with the answers."""
    make_org_key()
    context = phone_context(browser, True)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request")
        _to_step_three(page)

        def unreachable(route: Any) -> None:
            route.abort("connectionrefused")

        page.route("**/request*", unreachable)
        with pytest.raises(Exception, match="ERR_CONNECTION_REFUSED"):
            page.reload()
        page.unroute("**/request*", unreachable)
        page.reload()
        _on_step(page, 3)
        assert page.input_value("#what_happened") == canary_for("what_happened")
        expect(page.locator("#restored-notice")).to_be_visible()
    finally:
        context.close()
