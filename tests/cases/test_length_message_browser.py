"""A note over its limit says so once, in real Chromium: the live counter under the box says
what is wrong and how much to cut, and Save refuses with that same line. It showed two red
lines, one under the other: the counter ("… please shorten it") and the refusal ("Too long:
…"), and a caseworker under pressure had to read both to learn one thing."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake import crypto
from intake.models import Role
from tests.builders import give_key, make_case, make_org_key, make_user, signed_in_context
from tests.cases.test_browser import STUB_KEYRING, wait_decrypted

pytestmark = pytest.mark.browser

DANGER = "rgb(161, 38, 13)"  # --danger in refuge.css

OVER = {
    "en": "Too long: 20003 of 20000 characters, 3 over the limit. Shorten it and try again.",
    "zh_Hant": "太長了：20003 / 20000 個字元，超出 3 個。請縮短後再試。",
}
EMPTY = {"en": "Write something first.", "zh_Hant": "請先輸入內容。"}


def red_lines(page: Any, form: str) -> list[str]:
    """The lines shown in the danger colour in ``form``, below its text box."""
    lines: list[str] = page.eval_on_selector(
        form,
        """(form, danger) => Array.from(form.querySelectorAll("p"))
            .filter((p) => p.checkVisibility() && p.textContent.trim()
                && getComputedStyle(p).color === danger)
            .map((p) => p.textContent.trim())""",
        DANGER,
    )
    return lines


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_a_note_over_its_limit_shows_one_message_that_says_how_much_to_cut(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    org = make_org_key()
    case = make_case(org, {"what_happened": "x"})
    user = give_key(make_user(Role.CASEWORKER), org)
    context = signed_in_context(browser, app, live_server.url, user, locale="en-GB")
    context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.goto(f"{live_server.url}/cases/{case.ref}?lang={locale}")
        wait_decrypted(page)
        form, box = "#note-form", "#note-text"
        # A refusal of an earlier Save (nothing written yet) is in the error line.
        page.click(f"{form} button[type=submit]")
        assert red_lines(page, form) == [EMPTY[locale]]

        # Pasted past the limit, the counter says by how much, and the earlier refusal goes:
        # it is about a text no longer there, and it was a second red line.
        page.fill(box, "林" * 20_003)
        assert red_lines(page, form) == [OVER[locale]]
        assert page.inner_text(f"{box}-count") == OVER[locale]

        # Save refuses with that one line: nothing sent, the box has the focus, is marked
        # invalid and described by the counter, which is said at once (no wait for a pause).
        page.click(f"{form} button[type=submit]")
        assert red_lines(page, form) == [OVER[locale]]
        assert page.locator(f"{form} .field-error").is_hidden()
        assert page.locator(f"{form} .field-error").text_content() == ""
        assert page.evaluate("document.activeElement.id") == "note-text"
        assert page.get_attribute(box, "aria-invalid") == "true"
        described = (page.get_attribute(box, "aria-describedby") or "").split()
        assert "note-text-count" in described
        assert "note-hint" in described
        page.wait_for_function(
            "text => document.getElementById('note-text-count-said').textContent === text",
            arg=OVER[locale],
            timeout=1000,
        )
        assert [url for url in posts if "/notes" in url or "/note" in url] == []

        # Cut to the limit: no red line; the counter stays, quiet, and Save goes through.
        page.fill(box, "林" * 20_000)
        assert red_lines(page, form) == []
        assert page.get_attribute(box, "aria-invalid") is None
        with page.expect_navigation():
            page.click(f"{form} button[type=submit]")
        page.wait_for_selector(".flash-success")
    finally:
        context.close()
