"""The status page reached from the receipt, in real Chromium (a 360 px phone in an en-US
browser, JavaScript on): the person never types the code again, and it never travels in an
address, a Referer or a line of the server's log (DESIGN §1: the code is a secret).

- "Go to the status page" on the receipt posts the code and opens the request.
- /status opened by a link in the same tab (the landing page's "I have a receipt code") finds
  the code filled in while the tab keeps it (receipt.js, until "I have written down or copied
  the code" is ticked or the tab is closed), and says so; another tab, or the same tab once
  the box is ticked, gets an empty box as before.

Without JavaScript the receipt's button posts the code too (test_keeping_place.py, over HTTP).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.builders import make_org_key
from tests.public.test_browser import fill_request_form

pytestmark = pytest.mark.browser

FILLED_IN = {
    "es": "El código de recibo de la solicitud que envió desde esta pestaña ya está escrito",
    "ar": "رمز الإيصال للطلب الذي أرسلته من علامة التبويب هذه مُدخَل بالفعل",
}


def _open_status_by_the_landing_link(page: Any, base: str, lang: str) -> None:
    page.goto(f"{base}/?lang={lang}")
    page.click("main a.button.secondary[href^='/status']")
    page.wait_for_selector("form.status-form #code")
    page.wait_for_load_state("load")  # status-code.js, at the end of the body, has run


@pytest.mark.parametrize("lang", ["es", "ar"])
def test_the_status_page_from_the_receipt_never_asks_to_type_the_code_again(
    app: Flask, live_server: Any, browser: Any, caplog: pytest.LogCaptureFixture, lang: str
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="werkzeug")  # its access log too (the app keeps it off)
    make_org_key()
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-US")
    context.set_default_timeout(15_000)
    requested: list[tuple[str, str]] = []  # (address, Referer) of everything the tab asked for
    context.on(
        "request",
        lambda request: requested.append((request.url, request.headers.get("referer", ""))),
    )
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())  # "Leave the receipt?": yes
        page.goto(f"{live_server.url}/request?lang={lang}")
        fill_request_form(page)
        page.click("#send-request")
        page.wait_for_selector("#receipt-panel:not([hidden])")
        code = page.inner_text("#receipt-code").strip()

        # From the receipt's button: the request opens, nothing typed.
        page.click("#receipt-status button")
        page.wait_for_selector("#shared-status")
        assert page.get_attribute("#shared-status", "data-status") == "received"

        # By a link in the same tab, the code not yet marked as written down: filled in.
        _open_status_by_the_landing_link(page, live_server.url, lang)
        expect(page.locator("#code")).to_have_value(code)
        note = page.locator("#code-from-this-tab")
        expect(note).to_be_visible()
        expect(note).to_contain_text(FILLED_IN[lang])
        described = (page.get_attribute("#code", "aria-describedby") or "").split()
        assert "code-from-this-tab" in described
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.click("form.status-form button[type=submit]")
        page.wait_for_selector("#shared-status")

        # Another tab never had it.
        other = context.new_page()
        _open_status_by_the_landing_link(other, live_server.url, lang)
        expect(other.locator("#code")).to_have_value("")
        expect(other.locator("#code-from-this-tab")).to_be_hidden()
        other.close()

        # Ticked "written down" on the receipt (which the tab brings back): no longer filled in.
        page.goto(f"{live_server.url}/request?lang={lang}")
        page.wait_for_selector("#receipt-panel:not([hidden])")
        assert page.inner_text("#receipt-code").strip() == code
        page.check("#receipt-kept")
        _open_status_by_the_landing_link(page, live_server.url, lang)
        expect(page.locator("#code")).to_have_value("")
        expect(page.locator("#code-from-this-tab")).to_be_hidden()
        assert errors == []
    finally:
        context.close()

    # In no address, no Referer, no line of the server's log, in either way of writing it.
    compact = code.replace("-", "")
    assert requested
    for address, referer in requested:
        for secret in (code, compact):
            assert secret not in address, address
            assert secret not in referer, referer
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /status" in logged  # the server's access log was read
    assert code not in logged
    assert compact not in logged
