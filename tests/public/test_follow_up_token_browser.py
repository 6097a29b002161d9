"""The reviewer's scenario at /status in real Chromium (繁體中文, a 360 px phone): a follow-up
reaches the server, its answer is lost on the way back, the page says it could not confirm the
message arrived and that pressing 安全送出 again is safe (not "could not be sent"), and
the person presses 安全送出 again (or opens the status again first). The message is stored once,
and the defender sees it once; a new message is stored as a new one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from intake import crypto
from intake.extensions import db
from intake.models import CaseMessage, MessageKind
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import table_count
from tests.public.conftest import case_with_a_thread
from tests.sealed import open_message

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
# The POST got no answer: it may have been stored, so the page says it could not confirm that.
FAILED_ZH = "我們無法確認您的訊息是否已送達。訊息仍在表單中。您可以放心再按一次「安全送出」"
SENT_ZH = "您的訊息已安全送出。"
MESSAGE = "今天警察又來到辦公室，帶走了兩台電腦。"


class LoseFirstAnswer:
    """page.route handler: the first POST of a follow-up reaches the server (route.fetch),
    then its answer is dropped (route.abort), as on a flaky connection; later ones pass."""

    def __init__(self) -> None:
        self.delivered: list[int] = []
        self.bodies: list[bytes] = []

    def __call__(self, route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        self.bodies.append(route.request.post_data_buffer or b"")
        if not self.delivered:
            response = route.fetch()
            self.delivered.append(response.status)
            route.abort("connectionreset")
            return
        route.continue_()


def _case_with_a_thread(org: OrgKeyPair) -> str:
    """A case with three messages already: two of the defender's follow-ups and a reply."""
    return case_with_a_thread(
        org, follow_ups=("第一則", "第二則"), reply="我們收到了", locale="zh_Hant"
    )


def _open_status(page: Any, base: str, code: str) -> None:
    page.goto(f"{base}/status?lang=zh_Hant")
    page.fill("#code", code)
    page.click("main button[type=submit]")
    page.wait_for_selector("#follow-up-form")


def _stored_follow_ups(org: OrgKeyPair) -> list[str]:
    db.session.rollback()
    messages = db.session.scalars(
        sa.select(CaseMessage)
        .where(CaseMessage.kind == MessageKind.SUBMITTER_FOLLOW_UP)
        .order_by(CaseMessage.id)
    ).all()
    return [open_message(message.sealed_body, org.secret) for message in messages]


@pytest.mark.parametrize("retry", ["send again", "open the status again, then send again"])
def test_a_follow_up_whose_answer_was_lost_sent_again_is_stored_once(
    app: Flask, live_server: Any, browser: Any, retry: str
) -> None:
    org = make_org_key()
    code = _case_with_a_thread(org)
    assert table_count("case_messages") == 3
    context = browser.new_context(viewport=PHONE, locale="zh-TW")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        lose = LoseFirstAnswer()
        page.route(lambda url: urlsplit(url).path == "/status/follow-up", lose)
        _open_status(page, live_server.url, code)
        page.wait_for_selector(".message-body.reply-opened >> nth=2")

        page.fill("#body", MESSAGE)
        page.click("#follow-up-form button[type=submit]:not([data-language-url])")
        expect(page.locator("#error-summary")).to_contain_text(FAILED_ZH)
        assert lose.delivered == [201]  # the server stored it; the page never heard
        assert table_count("case_messages") == 4
        assert page.input_value("#body") == MESSAGE  # still in the form

        if retry.startswith("open"):
            _open_status(page, live_server.url, code)
            # The message waited in this tab, with its token, and is back in the form.
            expect(page.locator("#body")).to_have_value(MESSAGE)
        page.click("#follow-up-form button[type=submit]:not([data-language-url])")
        expect(page.locator("#send-status")).to_contain_text(SENT_ZH)

        assert table_count("case_messages") == 4  # not 5: the retry stored nothing
        assert _stored_follow_ups(org) == ["第一則", "第二則", MESSAGE]
        tokens = [body.split(b'name="submission_token"')[1][4:47] for body in lose.bodies]
        assert len(tokens) == 2
        assert tokens[0] == tokens[1]
        assert crypto.submission_token_bytes(tokens[0].decode()) is not None

        # On reload the defender sees the message once.
        _open_status(page, live_server.url, code)
        page.wait_for_selector(".message-body.reply-opened >> nth=3")
        bodies = page.locator(".message-body").all_inner_texts()
        assert bodies.count(MESSAGE) == 1
        assert len(bodies) == 4

        # A new message is a new one: stored, with a new token.
        page.fill("#body", "另一則訊息")
        page.click("#follow-up-form button[type=submit]:not([data-language-url])")
        expect(page.locator("#send-status")).to_contain_text(SENT_ZH)
        assert _stored_follow_ups(org)[-2:] == [MESSAGE, "另一則訊息"]
        assert lose.bodies[-1].split(b'name="submission_token"')[1][4:47] != tokens[0]
    finally:
        context.close()


def test_text_changed_after_a_lost_answer_is_sent_as_a_new_message(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """The token belongs to the words it was made for: an edit after a lost answer is never
    dropped as a repeat of the first attempt (that one was stored, and stays)."""
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = browser.new_context(viewport=PHONE, locale="zh-TW")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        lose = LoseFirstAnswer()
        page.route(lambda url: urlsplit(url).path == "/status/follow-up", lose)
        _open_status(page, live_server.url, code)
        # The scripts come after the form: until they run, a press posts the form without
        # JavaScript (which the lost answer would turn into the browser's error page).
        page.wait_for_selector(".message-body.reply-opened >> nth=2")
        page.fill("#body", MESSAGE)
        page.click("#follow-up-form button[type=submit]:not([data-language-url])")
        expect(page.locator("#error-summary")).to_contain_text(FAILED_ZH)
        page.fill("#body", MESSAGE + "（更正）")
        page.click("#follow-up-form button[type=submit]:not([data-language-url])")
        expect(page.locator("#send-status")).to_contain_text(SENT_ZH)
        assert _stored_follow_ups(org)[-2:] == [MESSAGE, MESSAGE + "（更正）"]
    finally:
        context.close()


def test_without_js_a_follow_up_sent_again_after_a_lost_answer_is_stored_once(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """The form's hidden token (rendered by the server): the browser shows its error page,
    the person reloads it, which posts the same form again."""
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = browser.new_context(viewport=PHONE, locale="zh-TW", java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        lose = LoseFirstAnswer()
        page.route(lambda url: urlsplit(url).path == "/status/follow-up", lose)
        _open_status(page, live_server.url, code)
        token = page.get_attribute("#follow-up-form input[name=submission_token]", "value")
        assert token is not None
        assert crypto.submission_token_bytes(token) is not None

        page.fill("#body", MESSAGE)
        page.click("#follow-up-form button[type=submit]:not([data-language-url])")
        # The browser's error page, loaded: reloading it while Chromium still swaps it in
        # failed once ("Not attached to an active page").
        page.wait_for_url("chrome-error://**")
        assert lose.delivered == [200]
        assert table_count("case_messages") == 4

        page.reload()  # the browser's error page: Reload posts the same form again
        expect(page.locator("#follow-up-sent")).to_contain_text(SENT_ZH)
        assert table_count("case_messages") == 4
        assert _stored_follow_ups(org)[-1] == MESSAGE
        assert [token.encode() in body for body in lose.bodies] == [True, True]
        bodies = page.locator(".message-body").all_inner_texts()
        assert bodies.count(MESSAGE) == 1
    finally:
        context.close()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        # A refusal the server answered keeps its own reason; one without a reason was refused.
        (400, '{"error": "這則訊息被拒絕了。"}', "這則訊息被拒絕了。"),
        (400, "{}", "您的訊息無法送出。"),
        # A gateway's error: it may have been stored.
        (502, "", "我們無法確認您的訊息是否已送達。"),
    ],
)
def test_an_answered_failure_of_a_follow_up_says_what_is_true_of_it(
    app: Flask, live_server: Any, browser: Any, status: int, body: str, expected: str
) -> None:
    code = _case_with_a_thread(make_org_key())
    context = browser.new_context(viewport=PHONE, locale="zh-TW")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)

        def answer(route: Any) -> None:
            if route.request.method != "POST":
                route.continue_()
                return
            route.fulfill(status=status, content_type="application/json", body=body)

        page.route(lambda url: urlsplit(url).path == "/status/follow-up", answer)
        _open_status(page, live_server.url, code)
        page.wait_for_selector(".message-body.reply-opened >> nth=2")
        page.fill("#body", MESSAGE)
        page.click("#follow-up-form button[type=submit]:not([data-language-url])")
        expect(page.locator("#error-summary")).to_contain_text(expected)
    finally:
        context.close()
