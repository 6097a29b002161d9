"""Answers of emoji in real Chromium (JavaScript on, a 360 px phone): every answer of the
request form within its counter, in four-byte characters, is filed (at 320 KiB it was refused
as "The sealed answers are not valid: sealed answers is too large.", atop the form). Where an
organisation lowered the room below what the counters allow, the refusal is said beside the
answer that takes most room, or beside the follow-up message, and what was typed stays."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake.labels import SEALED_FIELDS
from intake.public.forms import LONG_MAX, SHORT_MAX
from tests.builders import make_org_key
from tests.conftest import LiveServer, table_count
from tests.public.conftest import phone_context
from tests.public.test_follow_up_token_browser import _case_with_a_thread, _open_status

pytestmark = pytest.mark.browser
SHOTS = Path(tempfile.gettempdir()) / "shots_h1"
EMOJI = "\U0001f54a"
SHORT_FIELDS = ("sender_name", "sender_organisation", "consent_by", "victim_name")


def _write(page: Any, name: str, text: str) -> None:
    """As a paste into a (possibly folded) answer: the value, and the input event."""
    page.evaluate(
        """([name, text]) => {
            const el = document.getElementsByName(name)[0];
            el.value = text;
            el.dispatchEvent(new Event("input", { bubbles: true }));
        }""",
        [name, text],
    )


def _long_fields(page: Any) -> list[str]:
    names = page.evaluate(
        "Array.from(document.querySelectorAll('textarea[data-max-chars]')).map(e => e.name)"
    )
    assert set(names) <= set(SEALED_FIELDS)
    return list(names)


def _send(page: Any) -> None:
    for choice in ("urgency][value=days", "consent][value=yes", "referral_consent][value=yes"):
        page.evaluate("s => { document.querySelector(s).checked = true; }", f"input[name={choice}]")
    page.evaluate("window.Refuge.steps.show(5)")
    page.click("#send-request")


@pytest.fixture
def lowered_server(make_app: Any) -> Iterator[tuple[Flask, LiveServer]]:
    app = make_app("sqlite", SEALED_ANSWERS_MAX_BYTES=24 * 1024)
    with app.app_context():
        server = LiveServer(app).start()
        yield app, server
        server.stop()


def test_every_answer_at_its_limit_in_emoji_is_filed(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = phone_context(browser, True)
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request")
        long_fields = _long_fields(page)
        assert len(long_fields) >= 10
        for name in long_fields:
            _write(page, name, EMOJI * LONG_MAX)
        for name in SHORT_FIELDS:
            _write(page, name, EMOJI * SHORT_MAX)
        expect(page.locator("#what_happened-count")).to_have_text("8000 of 8000 characters")
        _send(page)
        expect(page.locator("#receipt-panel")).to_be_visible(timeout=60_000)
        assert table_count("cases") == 1
    finally:
        context.close()


def test_where_the_room_was_lowered_the_refusal_is_said_beside_the_roomiest_answer(
    lowered_server: tuple[Flask, LiveServer], browser: Any
) -> None:
    _app, server = lowered_server
    make_org_key()
    context = phone_context(browser, True)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/request")
        page.fill("#what_happened", "Detained at the checkpoint.")
        _write(page, "context", EMOJI * LONG_MAX)  # 32 KB of UTF-8
        _write(page, "perpetrators", EMOJI * (LONG_MAX // 2))
        _send(page)
        error = page.locator("#context-error")
        expect(error).to_contain_text("Your answers together are too long to be encrypted")
        expect(error).to_be_visible()
        expect(page.locator("[data-step='3']")).to_be_visible()
        expect(page.locator("#perpetrators-error")).to_be_hidden()
        expect(page.locator("#error-summary a[href='#context']")).to_be_visible()
        expect(page.locator("#context-count")).to_be_visible()  # within its counter, not red
        assert page.input_value("#context") == EMOJI * LONG_MAX  # kept
        assert table_count("cases") == 0
        page.locator("#context-field").screenshot(path=SHOTS / "answers-too-long-to-seal-360.png")
    finally:
        context.close()


def test_where_the_room_was_lowered_a_follow_up_is_refused_beside_the_message(
    lowered_server: tuple[Flask, LiveServer], browser: Any
) -> None:
    _app, server = lowered_server
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = phone_context(browser, True, "zh_Hant")
    try:
        page = context.new_page()
        _open_status(page, server.url, code)
        page.wait_for_selector(".message-body.reply-opened >> nth=2")  # scripts bound
        _write(page, "body", EMOJI * LONG_MAX)
        page.click("#send-follow-up")
        error = page.locator("#body-error")
        expect(error).to_contain_text("您的訊息太長，無法加密並送出")
        expect(page.locator("#error-summary a[href='#body']")).to_be_visible()
        assert page.input_value("#body") == EMOJI * LONG_MAX
        assert table_count("case_messages") == 3
        page.locator("#follow-up-form").screenshot(path=SHOTS / "message-too-long-zh_Hant-360.png")
    finally:
        context.close()
