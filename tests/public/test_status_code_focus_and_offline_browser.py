"""/status in real Chromium on a 360 px phone, as a defender at risk uses it: a wrong receipt
code puts the focus on the error summary (with JavaScript and without), so that a screen reader
says what is wrong; and a follow-up sent while offline says the server could not be reached
(not "could not be sent … try again"), the message staying in its box."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake import crypto
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import phone_context
from tests.public.test_follow_up_token_browser import _case_with_a_thread

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_a_wrong_code_puts_the_focus_on_the_error_summary(
    app: Flask, live_server: Any, browser: Any, javascript: bool
) -> None:
    context = phone_context(browser, javascript)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/status?lang=ru")
        page.fill("#code", crypto.new_receipt_code())
        page.click("main button[type=submit]")
        page.wait_for_load_state("load")
        expect(page.locator("#code-error")).to_be_visible()
        expect(page.locator("#error-summary")).to_be_focused()
    finally:
        context.close()


def test_a_follow_up_sent_offline_says_the_server_could_not_be_reached(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = phone_context(browser, True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/status?lang=ru")
        page.fill("#code", code)
        page.click("main button[type=submit]")
        page.wait_for_selector(".message-body.reply-opened >> nth=2")  # scripts bound
        page.fill("#body", "Ещё одна подробность.")
        context.set_offline(True)
        page.click("#send-follow-up")
        expect(page.locator("#error-summary")).to_contain_text(
            "Не удалось связаться с сервером. Ваше сообщение осталось в форме. Попробуйте ещё "
            "раз, когда будет связь."
        )
        expect(page.locator("#error-summary")).not_to_contain_text("Не удалось отправить")
        assert page.input_value("#body") == "Ещё одна подробность."
    finally:
        context.close()
    assert table_count("case_messages") == 3
