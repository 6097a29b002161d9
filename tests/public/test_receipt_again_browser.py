"""The usability review's reload in real Chromium (a 360 px phone, JavaScript on): after Send,
a reload (or a phone that dropped the tab while the person wrote the code down in another app)
shows the same receipt again, with the same code and a note that nothing was sent twice, not an
empty form to send again. The tab keeps the code in its sessionStorage only (never
localStorage, never sent anywhere) until the person ticks "I have written down or copied the
code", or starts a new request; another tab never sees it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake.extensions import db
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import fill_required_answers, phone_context
from tests.public.test_browser import fill_request_form

pytestmark = pytest.mark.browser

SENT_KEY = "refuge-request-sent"


class Dialogs:
    """Answers "leave page?" with Leave (or Stay, when ``stay``), and notes each one."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.stay = False

    def __call__(self, dialog: Any) -> None:
        self.asked.append(dialog.type)
        if self.stay:
            dialog.dismiss()
        else:
            dialog.accept()


def _phone_page(browser: Any) -> tuple[Any, Any, Dialogs, list[str]]:
    """A page on a 360 px phone; how it answers "leave page?" and its script errors."""
    context = phone_context(browser, javascript=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    dialogs = Dialogs()
    errors: list[str] = []
    page.on("dialog", dialogs)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, dialogs, errors


def _send(page: Any) -> str:
    page.click("#send-request")
    page.wait_for_selector("#receipt-panel:not([hidden])")
    return page.inner_text("#receipt-code").strip()


def _stored(page: Any) -> str:
    return str(
        page.evaluate(
            "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
        )
    )


def _reload(page: Any) -> None:
    page.reload()
    page.wait_for_load_state("load")


def test_a_reload_after_sending_shows_the_same_receipt_until_the_code_is_kept(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context, page, dialogs, errors = _phone_page(browser)
    try:
        page.goto(f"{live_server.url}/request?lang=en")
        fill_required_answers(page)
        code = _send(page)
        expect(page.locator("#receipt-again")).to_be_hidden()  # only when it comes back
        # Only this tab's sessionStorage has it; localStorage never does.
        assert code not in json.dumps(page.evaluate("Object.entries(localStorage)"))
        assert code in page.evaluate(f"sessionStorage.getItem('{SENT_KEY}')")

        _reload(page)
        assert dialogs.asked == ["beforeunload"]  # leaving still asks first
        expect(page.locator("#receipt-panel")).to_be_visible()
        assert page.inner_text("#receipt-code").strip() == code
        expect(page.locator("#receipt-again")).to_be_visible()
        expect(page.locator("#intake-form")).to_be_hidden()
        expect(page.locator("#receipt-kept")).to_be_visible()
        expect(page.locator("#receipt-kept")).not_to_be_checked()
        expect(page.locator("#receipt-new-request")).to_be_visible()
        # The reload sent nothing again.
        db.session.expire_all()
        assert table_count("cases") == 1

        # Another tab of the same browser does not see it: an empty form there.
        other = context.new_page()
        other.goto(f"{live_server.url}/request?lang=en")
        expect(other.locator("#intake-form")).to_be_visible()
        expect(other.locator("#receipt-panel")).to_be_hidden()
        assert code not in _stored(other)
        other.close()

        # A second reload still has it; ticking the box forgets it, and a reload is a new form.
        _reload(page)
        assert page.inner_text("#receipt-code").strip() == code
        page.check("#receipt-kept")
        assert code not in _stored(page)
        _reload(page)
        expect(page.locator("#intake-form")).to_be_visible()
        expect(page.locator("#receipt-panel")).to_be_hidden()
        expect(page.locator("#step-1-title")).to_be_visible()
        assert page.input_value("#what_happened") == ""
        assert dialogs.asked == ["beforeunload", "beforeunload"]  # ticked: no question
        assert errors == []
    finally:
        context.close()


def test_start_a_new_request_forgets_the_code_only_once_the_page_is_left(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context, page, dialogs, errors = _phone_page(browser)
    try:
        page.goto(f"{live_server.url}/request?lang=en")
        fill_required_answers(page)
        code = _send(page)
        # "Stay on page": the receipt and its kept code stay.
        dialogs.stay = True
        page.click("#receipt-new-request", no_wait_after=True)
        page.wait_for_timeout(500)
        assert dialogs.asked == ["beforeunload"]
        assert page.url.startswith(f"{live_server.url}/request?")
        assert page.inner_text("#receipt-code").strip() == code
        assert code in _stored(page)
        # "Leave": an empty form, and a reload of it is still an empty form.
        dialogs.stay = False
        page.click("#receipt-new-request")
        page.wait_for_load_state("load")
        expect(page.locator("#intake-form")).to_be_visible()
        assert "new=" not in page.url
        assert code not in _stored(page)
        _reload(page)
        expect(page.locator("#intake-form")).to_be_visible()
        expect(page.locator("#receipt-panel")).to_be_hidden()
        assert errors == []
    finally:
        context.close()


def test_an_immediate_request_brings_back_what_to_do_now_under_the_receipt(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context, page, _dialogs, errors = _phone_page(browser)
    try:
        page.goto(f"{live_server.url}/request?lang=en")
        fill_request_form(page)  # "Immediate", detention and reprisal, Taiwan
        code = _send(page)
        _reload(page)
        assert page.inner_text("#receipt-code").strip() == code
        urgent = page.locator("#urgent-help-panel")
        expect(urgent).to_be_visible()
        receipt_box = page.locator("#receipt-panel").bounding_box()
        urgent_box = urgent.bounding_box()
        assert receipt_box is not None
        assert urgent_box is not None
        assert urgent_box["y"] >= receipt_box["y"] + receipt_box["height"]
        # Only the code and the routing facts were kept: nothing the person wrote.
        assert "canary" not in _stored(page)
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize(
    "kept",
    [
        "not json",
        json.dumps({"code": "<img src=x onerror=alert(1)>"}),
        json.dumps({"code": 12345}),
        json.dumps(["ABCD-EFGH"]),
    ],
    ids=["not-json", "markup", "number", "list"],
)
def test_something_else_under_the_key_shows_an_empty_form(
    app: Flask, live_server: Any, browser: Any, kept: str
) -> None:
    make_org_key()
    context, page, dialogs, errors = _phone_page(browser)
    try:
        page.goto(f"{live_server.url}/request?lang=en")
        page.evaluate("([key, value]) => sessionStorage.setItem(key, value)", [SENT_KEY, kept])
        _reload(page)
        expect(page.locator("#intake-form")).to_be_visible()
        expect(page.locator("#receipt-panel")).to_be_hidden()
        assert dialogs.asked == []
        assert errors == []
    finally:
        context.close()
