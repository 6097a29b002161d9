"""Real Chromium, with libsodium's start slowed (it arrives last on a slow link, its scripts
deferred): what a review of load-time races found on the public pages.

- Signed in, /status loaded libsodium twice (the header's keyring, then the page's deferred
  copy), and the second copy replaced window.sodium under the scripts waiting on the first: the
  messages said "Opening…" for good, and after a language change Send waited for ever.
- A message kept over a language change came back only once libsodium had started (its tag was
  a libsodium hash), and anything typed meanwhile threw it away.
- A reload on the stepped form's review drew it before intake.js brought its checks: nothing
  was listed as still to answer, and step 1 was ticked done."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake.models import Role
from tests.browser_steps import sign_in_as, slow_sodium_js
from tests.builders import OrgKeyPair, make_org_key, make_staff_with_keys
from tests.public.conftest import PHONE, case_with_a_thread

pytestmark = pytest.mark.browser

REPLY = "We received your request and are on it."
MESSAGE = "They came back to the office this morning."
SODIUM_STARTED = "() => typeof window.sodium.crypto_generichash === 'function'"


def _case_with_a_reply(org: OrgKeyPair) -> str:
    return case_with_a_thread(org, reply=REPLY)


def _open_status(page: Any, base: str, code: str) -> None:
    page.goto(f"{base}/status")
    page.fill("#code", code)
    page.click("main button[type=submit]")
    page.wait_for_selector("#follow-up-form")


def test_signed_in_staff_see_the_replies_open_and_can_send_on_status(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    code = _case_with_a_reply(org)
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="at-status@example.org")
    page.add_init_script(slow_sodium_js(1500))
    sign_in_as(page, base, user)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    _open_status(page, base, code)
    # Once, either build: the header's (sumo), not the public pages' as well.
    builds = "script[src*='vendor/libsodium.js'], script[src*='vendor/libsodium-public.js']"
    assert page.locator(builds).count() == 1
    expect(page.locator(".message-body.reply-opened")).to_contain_text(REPLY, timeout=15_000)
    page.fill("#body", MESSAGE)
    page.click("#follow-up-form button[type=submit]:not([data-language-url])")
    expect(page.locator("#send-status")).to_contain_text("sent securely", timeout=15_000)
    assert not errors, errors


def test_a_message_kept_over_a_language_change_is_back_before_libsodium_starts(
    app: Flask, live_server: Any, browser: Any
) -> None:
    base = live_server.url
    code = _case_with_a_reply(make_org_key())
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    try:
        page = context.new_page()
        page.add_init_script(slow_sodium_js(4000))
        _open_status(page, base, code)
        page.fill("#body", MESSAGE)
        page.click("button[data-language-url*='lang=fr']")
        page.wait_for_url("**lang=fr**")
        page.wait_for_selector("#follow-up-form")
        expect(page.locator("#body")).to_have_value(MESSAGE, timeout=2_000)
        assert page.evaluate(SODIUM_STARTED) is False  # before libsodium, not after it
        # Kept no longer: a language change's message is back where it belongs.
        assert page.evaluate("() => sessionStorage.getItem('refuge.status-draft')") is None
    finally:
        context.close()


def test_text_typed_before_the_page_script_arrives_joins_the_kept_message(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """After a language change, on a link slow enough that the page can be typed in before
    status.js has run: the kept message comes back first, what was typed after it, and
    neither is lost."""
    base = live_server.url
    code = _case_with_a_reply(make_org_key())
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    held: list[Any] = []
    try:
        page = context.new_page()
        _open_status(page, base, code)
        page.fill("#body", MESSAGE)
        # The French page's status.js waits on the way until the defender has typed.
        page.route("**/static/js/status.js*", lambda route: held.append(route))
        page.click("button[data-language-url*='lang=fr']")
        page.wait_for_url("**lang=fr**", wait_until="commit")
        page.wait_for_selector("#follow-up-form")
        page.wait_for_function("() => document.documentElement.lang.startsWith('fr')")
        page.locator("#body").press_sequentially("Et ce soir aussi.")
        assert page.input_value("#body") == "Et ce soir aussi."  # status.js has not run
        assert held, "status.js was not held back"
        for route in held:
            route.continue_()
        expect(page.locator("#body")).to_have_value(f"{MESSAGE}\n\nEt ce soir aussi.")
        assert page.evaluate("() => sessionStorage.getItem('refuge.status-draft')") is None
    finally:
        context.close()


def test_a_reload_on_the_review_still_lists_what_is_left_to_answer(
    app: Flask, live_server: Any, page: Any
) -> None:
    make_org_key()
    page.add_init_script(slow_sodium_js(1500))
    page.goto(f"{live_server.url}/request")
    page.wait_for_selector("#step-nav:not([hidden])")
    page.fill("#what_happened", "Arrested at the checkpoint; phone taken.")
    last = page.locator("[data-step]").count() - 1
    # To the review with "how urgent" unanswered, as the tab's history would have it.
    page.evaluate(
        f"""() => {{ window.Refuge.steps.show({last});
                     history.replaceState({{refugeStep: {last}, refugePosition: 0}}, ""); }}"""
    )
    expect(page.locator(".review-missing").first).to_be_visible()

    page.reload()
    page.wait_for_selector(f"[data-step='{last + 1}']:not([hidden])")
    expect(page.locator(".review-missing").first).to_be_visible()
    assert "step-done" not in (page.get_attribute("[data-step-link='1']", "class") or "")
