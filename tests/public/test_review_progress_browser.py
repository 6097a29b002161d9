"""The usability review's Review step in real Chromium (a 360 px phone, JavaScript on): a step
skipped with nothing answered is not ticked in the progress line, and the review says "not
answered" (in the page's language) instead of "0 answered"; a step with an answer is ticked."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.builders import make_org_key
from tests.public.conftest import fill_required_answers, phone_context

pytestmark = pytest.mark.browser

NOT_ANSWERED = {"en": "not answered", "zh_Hant": "未回答", "ar": "لم تتم الإجابة"}
ZERO_ANSWERED = {"en": "0 answered", "zh_Hant": "已回答 0 項", "ar": "تمت الإجابة: 0"}


def _ticked(page: Any) -> list[bool]:
    return list(
        page.evaluate(
            "Array.from(document.querySelectorAll('[data-step-link]'))"
            ".map((item) => item.classList.contains('step-done'))"
        )
    )


def _review_lines(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("#review-list > li").all_inner_texts()]


@pytest.mark.parametrize("language", ["en", "zh_Hant", "ar"])
def test_a_skipped_step_is_not_ticked_and_reads_not_answered(
    app: Flask, live_server: Any, browser: Any, language: str
) -> None:
    make_org_key()
    context = phone_context(browser, javascript=True, locale=language)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.url}/request?lang={language}")
        fill_required_answers(page)  # steps 3 and 4 skipped
        assert _ticked(page) == [True, True, False, False, False]
        lines = _review_lines(page)
        assert all(NOT_ANSWERED[language] not in line for line in lines[:2])
        assert all(line.endswith(NOT_ANSWERED[language]) for line in lines[2:]), lines
        assert not any(ZERO_ANSWERED[language] in line for line in lines), lines
        expect(page.locator("#review-list > li.review-unanswered")).to_have_count(2)

        # One answer in the UN details: that step is ticked, and counted.
        page.locator("#review-list > li").nth(2).locator("button").click()
        page.fill("#when_happened", "2026-11-30")
        page.click("#step-next")
        page.click("#step-skip")
        page.wait_for_selector("#send-request:visible")
        assert _ticked(page) == [True, True, True, False, False]
        assert NOT_ANSWERED[language] not in _review_lines(page)[2]
        assert errors == []
    finally:
        context.close()
