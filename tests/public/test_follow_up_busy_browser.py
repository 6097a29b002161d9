"""The reviewer's scenario at /status in real Chromium (繁體中文 and العربية, a 360 px phone, a
slow network): after 安全送出 the follow-up form is busy until the answer comes, as the request
form is. It says aria-busy, Send and the language buttons are disabled (a language change would
leave the page mid-send), the message cannot be edited, and the "sending" line is on screen and
announced. Neither a press nor a script sends a second copy or leaves meanwhile. When the send
fails, everything works again with the message still in the form; when it succeeds, too."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from intake.extensions import db
from intake.models import CaseMessage, MessageKind
from tests.builders import make_org_key
from tests.public.test_follow_up_token_browser import PHONE, _case_with_a_thread
from tests.public.test_request_busy_browser import HoldThePost, _held_post

pytestmark = pytest.mark.browser

SEND = "#send-follow-up"
LANGUAGES = "button[data-language-url]"
# Per page language: the browser's locale, "Encrypting and sending…", the failure (no answer:
# "could not confirm it arrived"), the success.
WORDING = {
    "zh_Hant": (
        "zh-TW",
        "正在加密並送出……",
        "我們無法確認您的訊息是否已送達。",
        "您的訊息已安全送出。",
    ),
    "ar": (
        "ar",
        "جارٍ التشفير والإرسال…",
        "لم نتمكن من التأكد من وصول رسالتك.",
        "أُرسلت رسالتك بأمان.",
    ),
}
MESSAGE = {
    "zh_Hant": "今天警察又來到辦公室，帶走了兩台電腦。",
    "ar": "جاءت الشرطة إلى المكتب مرة أخرى اليوم.",
}

# A second press and a language change, as scripts would make them (a disabled button takes no
# click): the form's own submit handler must ignore both while the message is being sent.
PRESS_AGAIN_AND_CHANGE_LANGUAGE = """() => {
  const form = document.getElementById("follow-up-form");
  form.requestSubmit(document.getElementById("send-follow-up"));
  form.requestSubmit(document.querySelector("button[data-language-url]"));
}"""


def _follow_ups() -> int:
    db.session.rollback()
    return len(
        db.session.scalars(
            sa.select(CaseMessage.id).where(CaseMessage.kind == MessageKind.SUBMITTER_FOLLOW_UP)
        ).all()
    )


def _expect_not_busy(page: Any, message: str) -> None:
    expect(page.locator("#follow-up-form")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator(SEND)).to_be_enabled()
    expect(page.locator("#body")).to_be_editable()
    expect(page.locator("#attachments")).to_be_enabled()
    expect(page.locator("#body")).to_have_value(message)
    for button in page.locator(LANGUAGES).all():
        expect(button).to_be_enabled()


@pytest.mark.parametrize("outcome", ["fails", "succeeds"])
@pytest.mark.parametrize("lang", ["zh_Hant", "ar"])
def test_while_a_follow_up_is_slow_to_send_the_form_is_busy_and_the_page_stays(
    app: Flask, live_server: Any, browser: Any, lang: str, outcome: str
) -> None:
    locale, sending, failed, sent = WORDING[lang]
    message = MESSAGE[lang]
    code = _case_with_a_thread(make_org_key())
    before = _follow_ups()
    context = browser.new_context(viewport=PHONE, locale=locale)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        hold = HoldThePost()
        page.route(lambda url: urlsplit(url).path == "/status/follow-up", hold)
        page.goto(f"{live_server.url}/status?lang={lang}")
        page.fill("#code", code)
        page.click("main button[type=submit]")
        # The scripts come after the form: until they have run, Send posts without JavaScript.
        page.wait_for_selector(".message-body.reply-opened >> nth=2")
        address = page.url
        form = page.locator("#follow-up-form")
        _expect_not_busy(page, "")
        assert page.locator(LANGUAGES).count() == 6  # every language but this page's

        page.fill("#body", message)
        page.click(SEND)
        post = _held_post(page, hold)

        expect(form).to_have_attribute("aria-busy", "true")
        expect(page.locator(SEND)).to_be_disabled()
        expect(page.locator("#body")).not_to_be_editable()
        expect(page.locator("#attachments")).to_be_disabled()
        for button in page.locator(LANGUAGES).all():
            expect(button).to_be_disabled()
        status = page.locator("#send-status")
        expect(status).to_have_text(sending)
        expect(status).to_have_attribute("role", "status")
        expect(status).to_have_attribute("aria-live", "polite")
        expect(status).to_be_in_viewport()
        page.evaluate(PRESS_AGAIN_AND_CHANGE_LANGUAGE)
        page.wait_for_timeout(300)  # time enough for a second POST or a navigation to start
        assert len(hold.held) == 1
        assert page.url == address
        expect(form).to_have_attribute("aria-busy", "true")
        expect(page.locator("#body")).to_have_value(message)

        if outcome == "fails":
            post.abort("connectionreset")
            expect(page.locator("#error-summary")).to_contain_text(failed)
            expect(status).to_have_text("")
            _expect_not_busy(page, message)  # the message still in the form, to send again
            assert _follow_ups() == before
            page.click(SEND)
            post = _held_post(page, hold, 2)
            expect(form).to_have_attribute("aria-busy", "true")

        post.continue_()
        expect(status).to_have_text(sent)
        expect(page.locator(".message-own .message-body").last).to_have_text(message)
        _expect_not_busy(page, "")
        assert _follow_ups() == before + 1
        assert page.url == address
    finally:
        context.close()
