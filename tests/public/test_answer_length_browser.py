"""Long answers on a 360 px phone in real Chromium. Nothing typed or pasted is ever cut: with
JavaScript a counter appears near the limit and gives way, when the answer is over, to the
field's error (said once, with the count, and to screen readers), and Next and Send are refused
with the usual summary; the tab keeps
the whole text. Without JavaScript the server counts a line break as one character, as the
browser does, and says in the page's language how much to cut. An error is taken back as soon
as its field is answered or corrected."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from intake import crypto
from intake.extensions import db
from intake.models import Case
from intake.web import as_lead
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import (
    BROWSER_LOCALES,
    PHONE,
    fill_required_answers,
    phone_context,
    summary_links,
)

pytestmark = pytest.mark.browser
SHOTS = Path(tempfile.gettempdir())  # screenshots to look at by hand

LOCALES = list(BROWSER_LOCALES)
OVER = re.compile(r"\bchar-count-over\b")
INVALID = re.compile(r"\bfield-invalid\b")
COUNT = {
    "en": "{count} of {max} characters",
    "zh_Hant": "{count} / {max} 個字元",
    "ar": "عدد الأحرف: {count} من {max}",
}
TOO_LONG = {
    "en": "Please shorten this answer to {max} characters or fewer (it has {count}).",
    "zh_Hant": "請將這個回答縮短到 {max} 個字元以內（現在有 {count} 個）。",
    "ar": "يرجى اختصار هذه الإجابة إلى {max} حرف أو أقل (عدد أحرفها الآن {count}).",
}
# After it, for a long answer (an account), where the rest can go: with JavaScript and without.
REST_LATER = {
    "en": " You can send the rest after you send your request: from the status page, with your "
    "receipt code, as a message or a file.",
    "zh_Hant": "其餘的內容可以在送出請求後，憑您的收據代碼在狀態頁面以訊息或檔案送出。",
    "ar": " يمكنك إرسال الباقي بعد إرسال طلبك: من صفحة الحالة، باستخدام رمز الإيصال، كرسالة أو "
    "كملف.",
}


def story(length: int, every: int = 60) -> str:
    """``length`` characters as typed: a line break (one character) in every ``every``."""
    lines, left = [], length
    while left > 0:
        line = min(every - 1, left)
        lines.append("ق" * line)
        left -= line
        if left > 0:
            lines.append("\n")
            left -= 1
    return "".join(lines)


def _paste(page: Any, selector: str, text: str) -> None:
    """As a paste does: the text inserted at once, where maxlength would cut it."""
    page.fill(selector, "")
    page.focus(selector)
    page.keyboard.insert_text(text)


@pytest.mark.parametrize("locale", LOCALES)
def test_a_pasted_answer_over_the_limit_is_kept_counted_and_stops_next(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, True, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        counter = page.locator("#what_happened-count")
        text = page.locator("#what_happened")
        assert text.get_attribute("maxlength") is None
        expect(counter).to_be_hidden()

        _paste(page, "#what_happened", story(7199))
        expect(counter).to_be_hidden()  # below 90%: nothing to say yet
        _paste(page, "#what_happened", story(7200))
        expect(counter).to_have_text(COUNT[locale].format(count=7200, max=8000))
        expect(counter).not_to_have_class(OVER)
        assert "what_happened-count" in (text.get_attribute("aria-describedby") or "")

        pasted = story(9000)
        _paste(page, "#what_happened", pasted)
        assert page.input_value("#what_happened") == pasted  # all of it, nothing cut
        # Over: one line says it, the field's error line, with the count (a red counter
        # under the box said the same as the error above it: a review).
        too_long = TOO_LONG[locale].format(count=9000, max=8000) + REST_LATER[locale]
        error = page.locator("#what_happened-error")
        expect(error).to_have_text(too_long)
        expect(counter).to_be_hidden()
        assert "what_happened-error" in (text.get_attribute("aria-describedby") or "").split()
        assert "what_happened-count" not in (text.get_attribute("aria-describedby") or "")
        expect(text).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#what_happened-field")).to_have_class(INVALID)
        said = page.locator("#what_happened-count-said")
        expect(said).to_have_attribute("aria-live", "polite")
        expect(said).to_have_text(too_long)  # once typing pauses
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        page.check("input[name=urgency][value=days]")
        page.click("#step-next")
        expect(page.locator("#error-summary")).to_be_visible()
        expect(page.locator("[data-step='1']")).to_be_visible()
        expect(page.locator("[data-step='2']")).to_be_hidden()
        expect(error).to_have_text(too_long)
        assert summary_links(page) == ["#what_happened"]
        expect(page.locator("#error-summary")).to_contain_text(too_long)
        expect(counter).to_be_hidden()  # said once beside the field after the check too
        assert page.locator("#what_happened-field .field-error:visible").count() == 1

        # The tab keeps the whole text (a reload, the camera round-trip).
        page.reload()
        page.wait_for_load_state("load")
        assert page.input_value("#what_happened") == pasted
        expect(error).to_have_text(too_long)
        expect(counter).to_be_hidden()

        # Cut to the limit: the error goes, and Next goes on.
        page.click("#step-next")
        expect(page.locator("#what_happened-error")).to_have_text(too_long)
        expect(counter).to_be_hidden()
        _paste(page, "#what_happened", story(8000))
        expect(page.locator("#what_happened-error")).to_be_hidden()
        expect(page.locator("#error-summary")).to_be_hidden()
        expect(counter).to_have_text(COUNT[locale].format(count=8000, max=8000))
        expect(text).not_to_have_attribute("aria-invalid", "true")
        page.click("#step-next")
        expect(page.locator("[data-step='2']")).to_be_visible()
    finally:
        context.close()


def test_characters_are_counted_as_the_server_counts_them(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Code points, not UTF-16 units: 8000 emoji are 8000 characters, as Python's len says,
    and are sent sealed as typed."""
    org = make_org_key()
    context = phone_context(browser, True, "en")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=en")
        emoji = "🕊" * 8000
        _paste(page, "#what_happened", emoji)
        expect(page.locator("#what_happened-count")).to_have_text("8000 of 8000 characters")
        fill_required_answers(page, what_happened=None)
        page.click("#send-request")
        expect(page.locator("#receipt-panel")).to_be_visible(timeout=20_000)
        db.session.expire_all()
        case = db.session.scalars(sa.select(Case)).one()
        assert crypto.open_answers(case.sealed_answers, org.secret)["what_happened"] == emoji
    finally:
        context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_send_is_refused_while_any_answer_is_over_its_limit(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, True, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        page.fill("#what_happened", "Detained at the checkpoint.")
        page.check("input[name=urgency][value=days]")
        page.click("#step-next")
        page.check("input[name=consent][value=yes]")
        page.check("input[name=referral_consent][value=yes]")
        page.click("[data-step='2'] details summary")
        name = "م" * 301  # a short answer: at most 300
        _paste(page, "#victim_name", name)
        expect(page.locator("#victim_name-error")).to_have_text(
            TOO_LONG[locale].format(count=301, max=300)
        )
        expect(page.locator("#victim_name-count")).to_be_hidden()
        page.click("#step-next")
        assert summary_links(page) == ["#victim_name"]
        expect(page.locator("#victim_name-error")).to_have_text(
            TOO_LONG[locale].format(count=301, max=300)
        )
        # Skipped past by hand (the review's step links): Send checks every step again.
        page.evaluate("window.Refuge.steps.show(4)")
        page.click("#send-request")
        expect(page.locator("#error-summary")).to_be_visible()
        expect(page.locator("[data-step='2']")).to_be_visible()
        assert summary_links(page) == ["#victim_name"]
        assert page.input_value("#victim_name") == name
        db.session.rollback()
        assert table_count("cases") == 0
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_a_step_skipped_with_an_answer_over_its_limit_is_not_ticked_and_the_review_links_to_it(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    """An optional step can be skipped without a check: one left with an answer too long is
    not ticked as done in the progress line but marked, and the review links to the answer
    with the server's message, as it does to a required answer still missing."""
    make_org_key()
    context = phone_context(browser, True, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        page.fill("#what_happened", "Detained at the checkpoint.")
        page.check("input[name=urgency][value=days]")
        page.click("#step-next")
        page.check("input[name=consent][value=yes]")
        page.check("input[name=referral_consent][value=yes]")
        page.click("#step-next")
        expect(page.locator("[data-step='3']")).to_be_visible()
        _paste(page, "#context", story(8001))
        page.click("#step-skip")
        expect(page.locator("[data-step='4']")).to_be_visible()
        page.click("#step-skip")
        expect(page.locator("[data-step='5']")).to_be_visible()

        def ticks(name: str) -> list[str]:
            return [
                step
                for step in "1234"
                if name in (page.get_attribute(f"[data-step-link='{step}']", "class") or "")
            ]

        assert ticks("step-done") == ["1", "2"]  # 4, skipped with nothing in it, is not done
        assert ticks("step-attention") == ["3"]
        flagged = page.locator("#review-list > li.review-missing")
        expect(flagged).to_have_count(1)
        expect(page.locator("#review-list > li").nth(2)).to_have_class(re.compile("review-missing"))
        label = page.evaluate(
            "document.querySelector('#context-field label').firstChild.textContent.trim()"
        )
        too_long = TOO_LONG[locale].format(count=8001, max=8000) + REST_LATER[locale]
        assert flagged.locator("a").all_inner_texts() == [f"{as_lead(label)}{too_long}"]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=SHOTS / f"defender-review-too-long-{locale}-360.png", full_page=True)

        flagged.locator("a").click()
        expect(page.locator("[data-step='3']")).to_be_visible()
        assert page.evaluate("document.activeElement.id") == "context"

        # Shortened: the step is ticked, and the review flags nothing.
        _paste(page, "#context", story(8000))
        page.evaluate("window.Refuge.steps.show(4)")
        assert ticks("step-done") == ["1", "2", "3"]
        assert ticks("step-attention") == []
        expect(page.locator("#review-list > li.review-missing")).to_have_count(0)
    finally:
        context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_an_error_goes_as_soon_as_its_field_is_answered(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, True, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        summary = page.locator("#error-summary")

        page.click("#step-next")  # nothing answered: what happened, how urgent
        assert summary_links(page) == ["#what_happened", "#urgency-0"]
        expect(page.locator("#urgency-error")).to_be_visible()
        page.fill("#what_happened", "Detained at the checkpoint.")
        assert summary_links(page) == ["#urgency-0"]
        expect(page.locator("#what_happened-error")).to_be_hidden()
        expect(page.locator("#what_happened-field")).not_to_have_class(INVALID)
        expect(page.locator("#what_happened")).not_to_have_attribute("aria-invalid", "true")
        expect(summary).to_be_visible()

        page.check("input[name=urgency][value=days]")
        expect(page.locator("#urgency-error")).to_be_hidden()
        expect(summary).to_be_hidden()
        expect(page.locator("#urgency-field")).not_to_have_class(INVALID)
        expect(page.locator("#urgency-0")).not_to_have_attribute("aria-invalid", "true")

        # Emptied again: no new error while typing, only at the next check.
        page.fill("#what_happened", "")
        expect(page.locator("#what_happened-error")).to_be_hidden()
        page.fill("#what_happened", "Detained at the checkpoint.")

        page.click("#step-next")
        page.click("#step-next")  # the consent step, nothing chosen
        assert summary_links(page) == ["#consent-0", "#referral_consent-0"]
        page.check("input[name=referral_consent][value=no]")
        assert summary_links(page) == ["#consent-0"]
        expect(page.locator("#referral_consent-error")).to_be_hidden()
        expect(page.locator("#consent-error")).to_be_visible()
        page.check("input[name=consent][value=yes]")
        expect(summary).to_be_hidden()
        page.click("#step-next")
        expect(page.locator("[data-step='3']")).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_without_js_a_story_of_the_limit_with_line_breaks_is_sent_and_one_over_is_kept(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, False, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        assert page.get_attribute("#what_happened", "maxlength") is None
        over = story(8001)
        _paste(page, "#what_happened", over)
        assert page.input_value("#what_happened") == over  # nothing cut by the browser
        page.check("input[name=urgency][value=days]")
        page.check("input[name=consent][value=yes]")
        page.check("input[name=referral_consent][value=yes]")
        page.click("#send-request")
        page.wait_for_load_state("load")
        too_long = TOO_LONG[locale].format(count=8001, max=8000) + REST_LATER[locale]
        expect(page.locator("#what_happened-error")).to_have_text(too_long)
        expect(page.locator("#error-summary")).to_contain_text(too_long)
        assert page.input_value("#what_happened") == over
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        db.session.rollback()
        assert table_count("cases") == 0

        # One character less is sent: 8000, each line break one though the browser posts two.
        fits = over[:-1]
        assert fits.count("\n") > 100
        _paste(page, "#what_happened", fits)
        page.click("#send-request")
        page.wait_for_load_state("load")
        expect(page.locator("#receipt-code")).to_be_visible()
        db.session.rollback()
        assert table_count("cases") == 1
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_a_follow_up_over_the_limit_is_kept_and_refused_beside_the_box(
    app: Flask, live_server: Any, browser: Any, javascript: bool
) -> None:
    """The /status message box cut a paste at 8000 (maxlength) without a word. Now the whole
    text stays; with JavaScript the counter says it and Send is refused before anything is
    sealed, without it the server says it beside the box; shortened, it is sent."""
    from tests.public.test_follow_up_token_browser import _case_with_a_thread, _open_status

    org = make_org_key()
    code = _case_with_a_thread(org)
    context = phone_context(browser, javascript, "zh_Hant")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _open_status(page, live_server.url, code)
        if javascript:
            page.wait_for_selector(".message-body.reply-opened >> nth=2")  # scripts bound
        box = page.locator("#body")
        assert box.get_attribute("maxlength") is None
        text = story(8040)
        _paste(page, "#body", text)
        assert len(box.input_value()) == 8040  # nothing cut
        page.click("#follow-up-form button[type=submit]:not([data-language-url])")
        message = "請將您的訊息縮短到 8000 個字元以內（現在有 8040 個）。"
        if javascript:
            expect(page.locator("#body-error")).to_have_text(message)
            expect(page.locator("#body-count")).to_be_hidden()  # said once, beside the box
            expect(page.locator("#error-summary")).to_contain_text(message)
        else:
            page.wait_for_load_state("load")
            expect(page.locator("#follow-up-form")).to_contain_text(message)
            assert len(page.locator("#body").input_value()) == 8040  # given back whole
        assert table_count("case_messages") == 3  # nothing stored

        page.locator("#body").fill(text[:8000])
        page.click("#follow-up-form button[type=submit]:not([data-language-url])")
        if javascript:
            expect(page.locator("#send-status")).to_contain_text("您的訊息已安全送出。")
        else:
            page.wait_for_load_state("load")
            expect(page.locator("#follow-up-sent")).to_be_visible()
        assert table_count("case_messages") == 4
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
@pytest.mark.parametrize("locale", ["ar", "zh_Hans"])
def test_an_answer_shown_again_over_its_limit_is_said_once_beside_the_field(
    app: Flask, live_server: Any, browser: Any, locale: str, javascript: bool
) -> None:
    """The server's error (here a form posted for the server to seal, as "Send for the server to
    encrypt" does) and, with JavaScript, the counter under the box said the same thing in two
    red lines: now the error beside the field says it, once, with the count."""
    make_org_key()
    for width in (PHONE["width"], 1280):
        context = browser.new_context(
            viewport={"width": width, "height": 900}, java_script_enabled=javascript
        )
        try:
            page = context.new_page()
            page.goto(f"{live_server.url}/request?lang={locale}")
            _paste(page, "#what_happened", story(8100))
            for choice in (
                "urgency][value=days",
                "consent][value=yes",
                "referral_consent][value=no",
            ):
                page.locator(f"input[name={choice}]").evaluate("el => { el.checked = true; }")
            page.locator("#intake-form").evaluate(
                "form => HTMLFormElement.prototype.submit.call(form)"
            )
            page.wait_for_load_state("load")
            field = page.locator("#what_happened-field")
            error = page.locator("#what_happened-error")
            expect(error).to_be_visible()
            expect(error).to_contain_text("8100")
            expect(error).to_contain_text("8000")
            red = field.locator(".field-error:visible, .char-count:visible")
            expect(red).to_have_count(1)
            assert len(page.input_value("#what_happened")) == 8100
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            name = f"answer-over-once-{locale}-{'js' if javascript else 'nojs'}-{width}.png"
            field.screenshot(path=SHOTS / "shots_h1" / name)
            if javascript:  # shortened: the error goes, the counter says how far it is
                _paste(page, "#what_happened", story(7990))
                expect(error).to_be_hidden()
                expect(page.locator("#what_happened-count")).to_be_visible()
                expect(red).to_have_count(1)
        finally:
            context.close()
