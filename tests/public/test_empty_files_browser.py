"""A 0-byte file chosen with JavaScript on (a 360 px phone) is refused before anything is sealed,
beside the file field in the page's language, on the request and on a follow-up: sealed and
padded, the server cannot tell it from a small file, and a defender believed they had sent
evidence they had not."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake.extensions import db
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import fill_required_answers, phone_context
from tests.public.test_follow_up_token_browser import _case_with_a_thread, _open_status

pytestmark = pytest.mark.browser

EMPTY_PDF = {"name": "empty.pdf", "mimeType": "application/pdf", "buffer": b""}


def test_an_empty_file_is_refused_beside_the_files_before_the_request_is_sent(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = phone_context(browser, javascript=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/request?lang=es")
        fill_required_answers(page)
        page.set_input_files("#attachments", [EMPTY_PDF])
        page.click("#send-request")
        expect(page.locator("#attachments-error")).to_have_text(
            "«empty.pdf» está vacío (0 bytes): no llegaría nada de él. Vuelva a elegir el "
            "archivo o déjelo fuera."
        )
        assert page.evaluate("document.activeElement.id") == "error-summary"
        expect(page.locator("#receipt-code")).to_be_hidden()
    finally:
        context.close()
    db.session.expire_all()
    assert table_count("cases") == 0


def test_an_empty_file_is_refused_on_a_follow_up_and_the_message_stays(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = phone_context(browser, True, "zh_Hant")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _open_status(page, live_server.url, code)
        page.wait_for_selector(".message-body.reply-opened >> nth=2")  # scripts bound
        page.fill("#body", "補充資料")
        page.set_input_files("#attachments", [EMPTY_PDF])
        page.click("#send-follow-up")
        expect(page.locator("#attachments-error")).to_have_text(
            "「empty.pdf」是空的（0 位元組）：不會送出任何內容。請重新選擇檔案，或將它拿掉。"
        )
        assert page.input_value("#body") == "補充資料"
    finally:
        context.close()
    db.session.expire_all()
    assert table_count("case_messages") == 3  # nothing stored
