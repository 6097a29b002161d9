"""The intake form on a 360×740 phone in real Chromium: the first step on the first screen,
each step's Next checks that step's required answers and the review links to any still missing,
nothing lost on reload, a receipt a reload cannot file twice, and no silent fallback when the
browser cannot seal (issue 13)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from intake.extensions import db
from intake.models import Case, SealedBy
from tests.builders import make_org_key
from tests.public.conftest import CANARY, PHONE, canary_for, phone_context, summary_links

SHOTS = Path(tempfile.gettempdir())  # screenshots to look at by hand
pytestmark = pytest.mark.browser

SEAL_FAILED = {"en": "could not encrypt", "zh_Hant": "無法加密"}


def _cases() -> list[Case]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Case)))


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_what_happened_is_the_first_required_input_and_on_the_first_phone_screen(
    app: Flask, live_server: Any, browser: Any, javascript: bool, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, javascript, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        first_required = page.locator("[aria-required=true], fieldset[id$=-field] legend").first
        assert page.locator("textarea[aria-required=true]").first.get_attribute("id") == (
            "what_happened"
        )
        assert first_required.count() == 1
        box = page.locator("#what_happened").bounding_box()
        label = page.locator("label[for=what_happened]").bounding_box()
        assert box is not None
        assert label is not None
        assert label["y"] >= 0
        assert box["y"] + 40 <= PHONE["height"], f"what happened starts at {box['y']} px"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "no horizontal scroll"
        mode = "js" if javascript else "nojs"
        page.screenshot(path=SHOTS / f"defender-request-{locale}-{mode}-360.png", full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_next_on_the_consent_step_checks_its_required_answers_and_keeps_the_text(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, True, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        page.fill("#what_happened", canary_for("what_happened"))
        page.check("input[name=urgency][value=days]")
        page.click("#step-next")
        expect(page.locator("[data-step='2']")).to_be_visible()
        # A step with required answers cannot be skipped past them.
        expect(page.locator("#step-skip")).to_be_hidden()
        page.fill("#consent_by", canary_for("consent_by"))

        page.click("#step-next")
        expect(page.locator("#error-summary")).to_be_visible()
        assert page.evaluate("document.activeElement.id") == "error-summary"
        assert summary_links(page) == ["#consent-0", "#referral_consent-0"]
        expect(page.locator("[data-step='2']")).to_be_visible()
        expect(page.locator("[data-step='3']")).to_be_hidden()
        # Beside the field, the server form's own message for it (data-required).
        message = page.get_attribute("#consent-field", "data-required")
        assert message
        expect(page.locator("#consent-error")).to_have_text(message)
        assert page.get_attribute("#consent-0", "aria-invalid") == "true"
        assert page.input_value("#consent_by") == canary_for("consent_by")
        assert page.input_value("#what_happened") == canary_for("what_happened")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=SHOTS / f"defender-step2-next-{locale}-360.png", full_page=True)

        page.check("input[name=consent][value=yes]")
        page.click("#step-next")
        assert summary_links(page) == ["#referral_consent-0"]
        expect(page.locator("[data-step='2']")).to_be_visible()

        page.check("input[name=referral_consent][value=no]")
        page.click("#step-next")
        expect(page.locator("[data-step='3']")).to_be_visible()
        expect(page.locator("#error-summary")).to_be_hidden()
        assert "step-done" in (page.get_attribute("[data-step-link='2']", "class") or "")
        expect(page.locator("#step-skip")).to_be_visible()  # an optional step can be skipped
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_the_review_links_to_a_required_answer_still_missing_and_does_not_tick_its_step(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, True, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        page.fill("#what_happened", canary_for("what_happened"))
        page.check("input[name=urgency][value=days]")
        page.click("#step-next")
        page.check("input[name=consent][value=yes]")
        # However the person reaches the review (its own links and the error summary jump
        # between steps), a required answer still missing is shown there, not only on sending.
        page.evaluate("window.Refuge.steps.show(4)")
        expect(page.locator("[data-step='5']")).to_be_visible()
        review = page.locator("#review-list")
        flagged = review.locator("> li.review-missing")
        expect(flagged).to_have_count(1)
        assert flagged.locator("a").all_inner_texts() == [
            page.evaluate(
                "document.getElementById('intake-form').dataset.msgMissing.replace('{question}',"
                " document.querySelector('#referral_consent-field legend').firstChild"
                ".textContent.trim())"
            )
        ]
        assert "step-done" in (page.get_attribute("[data-step-link='1']", "class") or "")
        assert "step-done" not in (page.get_attribute("[data-step-link='2']", "class") or "")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=SHOTS / f"defender-review-missing-{locale}-360.png", full_page=True)

        flagged.locator("a").click()
        expect(page.locator("[data-step='2']")).to_be_visible()
        assert page.evaluate("document.activeElement.id") == "referral_consent-0"
    finally:
        context.close()


def test_text_survives_a_reload_without_the_draft_and_is_gone_after_sending(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = phone_context(browser, True, "zh_Hant")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=zh_Hant")
        expect(page.locator("#restored-notice")).to_be_hidden()
        page.fill("#what_happened", canary_for("what_happened"))
        page.check("input[name=urgency][value=days]")
        page.click("#step-next")
        page.check("input[name=consent][value=yes]")
        page.check("input[name=referral_consent][value=yes]")
        assert page.evaluate("() => localStorage.length") == 0  # not the opt-in draft

        page.reload()  # as after the camera round-trip
        expect(page.locator("#restored-notice")).to_be_visible()
        assert "帶回" in page.inner_text("#restored-notice")
        assert page.input_value("#what_happened") == canary_for("what_happened")
        assert page.is_checked("input[name=urgency][value=days]")
        assert page.is_checked("input[name=referral_consent][value=yes]")
        expect(page.locator("[data-step='2']")).to_be_visible()  # the step it was on

        for _step in range(3):
            page.click("#step-next")
        page.click("#send-request")
        page.wait_for_selector("#receipt-panel:not([hidden])")
        # The answers are forgotten; only the receipt code is kept, until it is written down.
        assert page.evaluate("() => Object.keys(sessionStorage)") == ["refuge-request-sent"]
        assert CANARY not in page.evaluate("() => JSON.stringify(Object.entries(sessionStorage))")
        page.check("#receipt-kept")
        assert page.evaluate("() => sessionStorage.length") == 0
        page.reload()
        assert page.input_value("#what_happened") == ""
        expect(page.locator("#restored-notice")).to_be_hidden()
        assert len(_cases()) == 1
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_a_reload_of_the_no_js_receipt_files_nothing(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, False, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        page.fill("#what_happened", canary_for("what_happened"))
        page.check("input[name=urgency][value=weeks]")
        page.check("input[name=consent][value=yes]")
        page.check("input[name=referral_consent][value=no]")
        page.click("#send-request")
        page.wait_for_selector("#receipt-code")
        code = page.inner_text("#receipt-code").strip()
        assert code
        page.screenshot(path=SHOTS / f"defender-receipt-{locale}-nojs-360.png", full_page=True)
        page.reload()
        assert page.locator("#receipt-code").count() == 0
        assert code not in page.content()
        assert len(_cases()) == 1
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_the_person_is_asked_before_the_server_seals_when_the_browser_cannot(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = phone_context(browser, True, locale)
    try:
        page = context.new_page()
        page.route("**/vendor/libsodium*.js?*", lambda route: route.abort())
        page.goto(f"{live_server.url}/request?lang={locale}")
        page.fill("#what_happened", f"blocked {CANARY}")
        page.check("input[name=urgency][value=immediate]")
        page.click("#step-next")
        page.check("input[name=consent][value=yes]")
        page.check("input[name=referral_consent][value=yes]")
        for _step in range(3):
            page.click("#step-next")
        page.click("#send-request")
        warning = page.locator("#seal-failed")
        expect(warning).to_be_visible()
        assert SEAL_FAILED[locale] in warning.inner_text()
        page.screenshot(path=SHOTS / f"defender-seal-failed-{locale}-360.png", full_page=True)
        assert _cases() == []  # nothing sent before the person agreed

        page.click("#send-unsealed")
        page.wait_for_selector("#receipt-code")
        # receipt.js, at the end of the receipt page, is what forgets the tab's copy.
        page.wait_for_load_state("load")
        (case,) = _cases()
        assert case.sealed_by is SealedBy.SERVER
        # The answers are forgotten; only the receipt code is kept, until it is written down.
        assert page.evaluate("() => Object.keys(sessionStorage)") == ["refuge-request-sent"]
        assert CANARY not in page.evaluate("() => JSON.stringify(Object.entries(sessionStorage))")
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_the_review_shows_each_steps_answers_folded_and_as_text(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    """ "Review and send" showed only "What happened — 5 answered": a person could not check
    what they were about to send. Each step's answers now fold out under its line, question
    and answer, written as text (markup typed in an answer stays text)."""
    make_org_key()
    typed = "Detained at <b>dawn</b>; lawyer refused\nsecond line"
    context = phone_context(browser, True, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        page.fill("#what_happened", typed)
        page.check("input[name=urgency][value=days]")
        page.click("#step-next")
        page.check("input[name=consent][value=yes]")
        page.evaluate("window.Refuge.steps.show(4)")
        review = page.locator("#review-list")
        first = review.locator("> li").nth(0)
        fold = first.locator("details.review-answers")
        expect(fold).to_have_count(1)
        assert fold.get_attribute("open") is None  # folded until asked
        expected_summary = page.evaluate(
            "document.getElementById('intake-form').dataset.msgShowAnswers"
        )
        assert fold.locator("summary").inner_text().strip() == expected_summary
        fold.locator("summary").click()
        questions = fold.locator("dt").all_inner_texts()
        answers = fold.locator("dd").all_inner_texts()
        question = page.evaluate(
            "document.querySelector('label[for=what_happened]').firstChild.textContent.trim()"
        )
        assert questions[0] == question
        assert answers[0] == typed
        assert fold.locator("b").count() == 0  # never parsed as markup
        urgency_label = page.locator(
            "label[for=" + page.get_attribute("input[name=urgency][value=days]", "id") + "]"
        ).inner_text()
        assert urgency_label.strip() in answers
        # A step with nothing answered has nothing to fold out.
        expect(review.locator("> li").nth(2).locator("details")).to_have_count(0)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=SHOTS / f"defender-review-answers-{locale}-360.png", full_page=True)
    finally:
        context.close()


def test_on_an_arabic_page_a_phone_number_reads_as_it_was_typed(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """A reviewer typed "+20 100 123 4567 (Signal)" on the Arabic form and saw "(Signal) 4567
    123 100 20+": the page's right-to-left direction reordered the groups in the box and in
    the review. Answers take the direction of what is typed (dir=auto)."""
    make_org_key()
    typed = "+20 100 123 4567 (Signal)"
    context = phone_context(browser, True, "ar")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=ar")
        assert page.evaluate("document.documentElement.dir") == "rtl"
        page.fill("#sender_contact", typed)
        page.fill("#what_happened", "اعتقلوا أخي")
        assert page.evaluate("document.getElementById('sender_contact').matches(':dir(ltr)')")
        assert page.evaluate("document.getElementById('what_happened').matches(':dir(rtl)')")
        page.check("input[name=urgency][value=days]")
        page.evaluate("window.Refuge.steps.show(4)")
        fold = page.locator("#review-list > li").nth(0).locator("details.review-answers")
        fold.locator("summary").click()
        shown = fold.locator("dd", has_text="Signal")
        expect(shown).to_have_count(1)
        assert shown.evaluate("el => el.matches(':dir(ltr)')")

        # After Arabic words the answer reads right to left, its number still as typed.
        page.evaluate("window.Refuge.steps.show(0)")
        page.fill("#sender_contact", "محمد: " + typed)
        page.evaluate("window.Refuge.steps.show(4)")
        fold = page.locator("#review-list > li").nth(0).locator("details.review-answers")
        fold.locator("summary").click()
        shown = fold.locator("dd", has_text="Signal")
        assert shown.evaluate("el => el.matches(':dir(rtl)')")
        number = shown.locator("bdi")
        expect(number).to_have_text("+20 100 123 4567")
        assert number.evaluate("el => el.matches(':dir(ltr)')")
        assert shown.evaluate("el => el.querySelectorAll('*:not(bdi)').length") == 0  # text only
    finally:
        context.close()
