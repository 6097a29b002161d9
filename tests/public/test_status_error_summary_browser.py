"""The /status follow-up's error summary in real Chromium, with and without JavaScript: as on
the request form, each error is a link to its own field (the message box, the files), labelled
with the field, and said beside the field too; an error of the whole form (a failed send) is
plain text. With JavaScript an error is taken back as soon as the message is written."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake import crypto
from intake.public.forms import LONG_MAX
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import phone_context, summary_links
from tests.public.test_follow_up_token_browser import _case_with_a_thread, _open_status

pytestmark = pytest.mark.browser

SEND = "#follow-up-form button[type=submit]:not([data-language-url])"
# zh_Hant, as _open_status opens the page: the label, a full-width colon (no space), then the
# server's message; the same with JavaScript and without.
WRITE_A_MESSAGE = "您的訊息：請輸入訊息或附加檔案。"
TOO_MANY_FILES = "附加檔案（選填）：最多只能附加 5 個檔案。"


def _send(page: Any, javascript: bool) -> None:
    page.click(SEND)
    if not javascript:
        page.wait_for_load_state("load")
    expect(page.locator("#error-summary")).to_be_visible()


def _summary_texts(page: Any) -> list[str]:
    return [item.inner_text().strip() for item in page.locator("#error-summary li").all()]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_each_follow_up_error_links_to_its_own_field_with_its_label(
    app: Flask, live_server: Any, browser: Any, javascript: bool
) -> None:
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = phone_context(browser, javascript, "zh_Hant")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _open_status(page, live_server.url, code)
        if javascript:
            page.wait_for_selector(".message-body.reply-opened >> nth=2")  # scripts bound

        # Nothing written: the message box's error, in the summary and beside the box.
        _send(page, javascript)
        assert summary_links(page) == ["#body"]
        assert _summary_texts(page) == [WRITE_A_MESSAGE]
        expect(page.locator("#body-error")).to_have_text("請輸入訊息或附加檔案。")
        expect(page.locator("#body")).to_have_attribute("aria-invalid", "true")
        page.click("#error-summary a")
        assert page.evaluate("document.activeElement.id") == "body"

        # Too many files, the message written: the files' error, linked to the file input.
        page.fill("#body", "補充資料")
        files = [{"name": f"p{i}.txt", "mimeType": "text/plain", "buffer": b"x"} for i in range(6)]
        page.set_input_files("#attachments", files)
        _send(page, javascript)
        assert summary_links(page) == ["#attachments"]
        assert _summary_texts(page) == [TOO_MANY_FILES]
        expect(page.locator("#attachments-error")).to_have_text("最多只能附加 5 個檔案。")
        expect(page.locator("#body-error")).to_be_hidden()
        page.click("#error-summary a")
        assert page.evaluate("document.activeElement.id") == "attachments"

        # Both at once (files may go without a message, not one too long): one line each, in
        # the form's order.
        page.fill("#body", "字" * (LONG_MAX + 1))
        page.set_input_files("#attachments", files)
        _send(page, javascript)
        assert summary_links(page) == ["#body", "#attachments"]
        assert table_count("case_messages") == 3  # nothing stored
    finally:
        context.close()


def test_with_js_an_error_goes_once_written_and_a_failed_send_is_not_a_field_link(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = phone_context(browser, True, "zh_Hant")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _open_status(page, live_server.url, code)
        page.wait_for_selector(".message-body.reply-opened >> nth=2")
        _send(page, True)
        assert summary_links(page) == ["#body"]
        page.fill("#body", "補充資料")
        expect(page.locator("#error-summary")).to_be_hidden()
        expect(page.locator("#body-error")).to_be_hidden()
        expect(page.locator("#body")).not_to_have_attribute("aria-invalid", "true")
        expect(page.locator("#body-field")).not_to_have_class("field field-invalid")

        # The server refuses (this code names no request): said, but no field is to blame.
        page.evaluate(
            "code => { document.getElementById('receipt-code-input').value = code; }",
            crypto.new_receipt_code(),
        )
        page.click(SEND)
        expect(page.locator("#error-summary")).to_contain_text("沒有請求使用此收據代碼。")
        assert summary_links(page) == []
        expect(page.locator("#body-error")).to_be_hidden()
        assert page.input_value("#body") == "補充資料"
        assert table_count("case_messages") == 3
    finally:
        context.close()
