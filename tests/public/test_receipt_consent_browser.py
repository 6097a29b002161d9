"""The receipt and the status page in real Chromium (JavaScript on and off):

- The receipt says the code can withdraw the request's consent only when the request gave it,
  after a reload of the tab and in another language too; /status lists consent to withdraw
  exactly then.
- The status page reached from the receipt shows the receipt code again, in that browser.

Screenshots of each screen at 360 and 1280 px, in Arabic and Simplified Chinese, are left in
the temporary folder's shots_h1 to look at by hand.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.builders import make_org_key

pytestmark = pytest.mark.browser
SHOTS = Path(tempfile.gettempdir()) / "shots_h1"
WIDTHS = (360, 1280)
# The line on what the code can do, in each language the tests read it in.
WITHOUT_CONSENT = {
    "en": "the messages you send us after this request. Do not keep it",
    "ar": "والرسائل التي ترسلها إلينا بعد هذا الطلب. لا تحفظه",
    "zh_Hans": "和您在此请求之后发给我们的消息。请勿存放",
}
WITH_CONSENT = {
    "en": "and can withdraw your consent",
    "ar": "ويمكنه سحب موافقتك",
    "zh_Hans": "也能撤回您的同意",
}


def _context(browser: Any, javascript: bool, width: int = 360) -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, java_script_enabled=javascript, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    return context


def _send_request(page: Any, consent: str, referral_consent: str, javascript: bool) -> str:
    page.fill("#what_happened", "Detained at the checkpoint; the phone was taken.")
    page.check("input[name=urgency][value=days]")
    if javascript:
        page.click("#step-next")
    page.check(f"input[name=consent][value={consent}]")
    page.check(f"input[name=referral_consent][value={referral_consent}]")
    if javascript:
        page.evaluate("window.Refuge.steps.show(5)")
    page.click("#send-request")
    code = page.locator("#receipt-code")
    expect(code).not_to_be_empty()
    return code.inner_text().strip()


def _says(page: Any, consented: bool, lang: str) -> None:
    """The receipt's line on what the code can do: with "withdraw your consent" or not."""
    shown = page.locator(".receipt-notes li:visible")
    expect(shown).to_have_count(4)
    said = " ".join(shown.all_inner_texts())
    assert (WITH_CONSENT[lang] if consented else WITHOUT_CONSENT[lang]) in said
    assert (WITHOUT_CONSENT[lang] if consented else WITH_CONSENT[lang]) not in said


@pytest.mark.parametrize(
    ("consent", "referral_consent"),
    [("yes", "yes"), ("yes", "no"), ("some", "yes")],
    ids=["consent", "no sharing", "some agreed"],
)
def test_with_javascript_the_receipt_promises_a_withdrawal_only_of_a_consent_given(
    app: Flask, live_server: Any, browser: Any, consent: str, referral_consent: str
) -> None:
    consented = consent == "yes" and referral_consent == "yes"
    make_org_key()
    context = _context(browser, True)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{live_server.url}/request?lang=en")
        code = _send_request(page, consent, referral_consent, javascript=True)
        _says(page, consented, "en")

        # A reload brings the receipt back from the tab (the form is empty again): the same.
        page.reload()
        page.wait_for_selector("#receipt-panel:not([hidden])")
        assert page.inner_text("#receipt-code").strip() == code
        _says(page, consented, "en")

        # In another language (the receipt is posted, the code never in an address).
        page.click("button[data-language-url*='lang=zh_Hans']")
        page.wait_for_url("**/request/receipt?lang=zh_Hans")
        assert page.inner_text("#receipt-code").strip() == code
        _says(page, consented, "zh_Hans")

        # The status page lists a consent to withdraw exactly when the receipt said so, and
        # shows the code again to this browser.
        page.click("#receipt-status button")
        page.wait_for_selector("#shared-status")
        expect(page.locator("#status-receipt-code")).to_have_text(code)
        expect(page.locator("#status-consent")).to_have_count(1 if consented else 0)
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["ar", "zh_Hans"])
def test_without_javascript_the_receipt_and_the_status_page_say_what_is_true(
    app: Flask, live_server: Any, browser: Any, lang: str
) -> None:
    make_org_key()
    for width in WIDTHS:
        context = _context(browser, False, width)
        try:
            page = context.new_page()
            page.goto(f"{live_server.url}/request?lang={lang}")
            code = _send_request(page, "yes", "no", javascript=False)
            _says(page, False, lang)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=SHOTS / f"receipt-no-consent-{lang}-{width}.png", full_page=True)

            page.go_back()  # Back, then Send again, unchanged: the same receipt, said so
            expect(page.locator("#sent-before")).to_have_count(0)
            again = _send_request(page, "yes", "no", javascript=False)
            assert again == code
            expect(page.locator("#receipt-sent-again")).to_be_visible()
            page.screenshot(path=SHOTS / f"receipt-sent-again-{lang}-{width}.png", full_page=True)

            page.click("#receipt-status button")
            page.wait_for_selector("#shared-status")
            expect(page.locator("#status-receipt-code")).to_have_text(code)
            expect(page.locator("#status-consent")).to_have_count(0)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=SHOTS / f"status-code-again-{lang}-{width}.png", full_page=True)
        finally:
            context.close()


def test_another_browser_with_the_code_is_not_shown_it_again(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = _context(browser, True)
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{live_server.url}/request?lang=en")
        code = _send_request(page, "yes", "yes", javascript=True)
    finally:
        context.close()
    other = _context(browser, True)
    try:
        page = other.new_page()
        page.goto(f"{live_server.url}/status?lang=en")
        page.fill("#code", code)
        page.click("form.status-form button[type=submit]")
        page.wait_for_selector("#shared-status")
        expect(page.locator("#status-receipt")).to_have_count(0)
        assert code not in page.url
    finally:
        other.close()
