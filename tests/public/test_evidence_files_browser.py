"""The usability review's evidence step in real Chromium (a 360 px phone, JavaScript on): a file
over the 10 MB limit, or six files with a limit of five, is said beside the field as soon as it
is chosen, and again by Next, which stays on the step; a skipped step with refused files is not
ticked on the review, which lists the problem; nothing is sent until the files are right."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake.extensions import db
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import PHONE, phone_context

pytestmark = pytest.mark.browser

EVIDENCE_STEP = "[data-step='4']"
FILE_ERROR = "#attachments-error"


def _files(tmp_path: Path) -> dict[str, Any]:
    """Real files on disk: one of 11 MB, six small ones, one small one."""
    big = tmp_path / "video-11mb.mp4"
    with big.open("wb") as handle:
        handle.truncate(11 * 1024 * 1024)
    small = []
    for number in range(6):
        path = tmp_path / f"photo-{number}.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes([number]) * 200)
        small.append(str(path))
    return {"big": str(big), "six": small, "one": small[:1]}


def _to_evidence_step(page: Any) -> None:
    page.fill("#what_happened", "Arrêté au poste de contrôle, téléphone saisi.")
    page.check("input[name=urgency][value=days]")
    page.click("#step-next")
    page.check("input[name=consent][value=yes]")
    page.check("input[name=referral_consent][value=yes]")
    page.click("#step-next")
    page.click("#step-skip")
    expect(page.locator(EVIDENCE_STEP)).to_be_visible()


def _evidence_progress_done(page: Any) -> bool:
    return bool(
        page.evaluate(
            "document.querySelector('[data-step-link=\"4\"]').classList.contains('step-done')"
        )
    )


def test_refused_files_are_said_beside_the_field_when_chosen_and_on_next(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    make_org_key()
    files = _files(tmp_path)
    context = phone_context(browser, javascript=True)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.url}/request?lang=en")
        _to_evidence_step(page)

        # 11 MB: said beside the field as soon as it is chosen, without a summary yet.
        page.set_input_files("#attachments", files["big"])
        expect(page.locator(FILE_ERROR)).to_be_visible()
        expect(page.locator(FILE_ERROR)).to_contain_text("larger than 10 MB")
        expect(page.locator(FILE_ERROR)).to_contain_text("video-11mb.mp4")
        expect(page.locator("#attachments")).to_have_attribute("aria-invalid", "true")
        assert "attachments-error" in (page.get_attribute("#attachments", "aria-describedby") or "")
        # Next stays on the step, with the error in the summary too.
        page.click("#step-next")
        expect(page.locator(EVIDENCE_STEP)).to_be_visible()
        expect(page.locator("#error-summary")).to_be_visible()
        expect(page.locator("#error-summary")).to_contain_text("larger than 10 MB")

        # Choosing a right file takes the error back; six files bring the other one.
        page.set_input_files("#attachments", files["one"])
        expect(page.locator(FILE_ERROR)).to_be_hidden()
        expect(page.locator("#error-summary")).to_be_hidden()
        page.set_input_files("#attachments", files["six"])
        expect(page.locator(FILE_ERROR)).to_have_text("Attach at most 5 files.")
        page.click("#step-next")
        expect(page.locator(EVIDENCE_STEP)).to_be_visible()
        expect(page.locator("#error-summary")).to_contain_text("Attach at most 5 files.")

        # Skipped with them: the review does not tick the step, and says what is wrong.
        page.click("#step-skip")
        page.wait_for_selector("#send-request:visible")
        assert not _evidence_progress_done(page)
        evidence = page.locator("#review-list > li").nth(3)
        expect(evidence).to_have_class("review-missing")
        expect(evidence).to_contain_text("Attach at most 5 files.")
        # Send sends nothing and goes back to the field.
        page.click("#send-request")
        expect(page.locator(EVIDENCE_STEP)).to_be_visible()
        expect(page.locator(FILE_ERROR)).to_be_visible()
        page.wait_for_timeout(300)
        db.session.expire_all()
        assert table_count("cases") == 0

        # One small file: Next goes on, the step is ticked, and the request is sent.
        page.set_input_files("#attachments", files["one"])
        page.click("#step-next")
        page.wait_for_selector("#send-request:visible")
        assert _evidence_progress_done(page)
        expect(page.locator("#review-list > li").nth(3)).not_to_have_class("review-missing")
        page.click("#send-request")
        page.wait_for_selector("#receipt-panel:not([hidden])")
        db.session.expire_all()
        assert table_count("cases") == 1
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_files_chosen_before_a_reload_are_asked_for_again(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path, locale: str
) -> None:
    """A reload brought back every answer and said so, but the file field was empty and
    nothing said it: the request could go without its evidence (a review in Chromium). Now
    the notice and the field ask for the files again, until they are chosen."""
    make_org_key()
    files = _files(tmp_path)
    again = {
        "en": "Please attach your files again.",
        "ar": "يرجى إرفاق ملفاتك مرة أخرى.",
    }
    context = phone_context(browser, javascript=True, locale=locale)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.url}/request?lang={locale}")
        _to_evidence_step(page)
        asked = page.locator("#attachments-again")
        expect(asked).to_be_hidden()  # nothing lost yet
        page.set_input_files("#attachments", files["six"][:2])
        page.click("#step-next")
        page.reload()

        notice = page.locator("#restored-notice")
        expect(notice).to_be_visible()
        link = notice.locator("a[href='#attachments']")
        expect(link).to_have_text(again[locale])
        link.click()
        expect(page.locator(EVIDENCE_STEP)).to_be_visible()
        expect(asked).to_be_visible()
        expect(asked).to_have_text(again[locale])
        assert "attachments-again" in (page.get_attribute("#attachments", "aria-describedby") or "")
        # Asked again after another reload too, until files are chosen.
        page.reload()
        expect(page.locator("#restored-notice a[href='#attachments']")).to_be_visible()
        page.locator("#restored-notice a[href='#attachments']").click()
        page.set_input_files("#attachments", files["one"])
        expect(asked).to_be_hidden()
        expect(page.locator("#restored-notice [data-files-again]")).to_be_hidden()
        assert "attachments-again" not in (
            page.get_attribute("#attachments", "aria-describedby") or ""
        )
        assert errors == []
    finally:
        context.close()
    assert table_count("cases") == 0


def test_without_javascript_the_summary_link_shows_the_file_fields_error(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    """The summary's link to "Please attach your files again" put the file input at the top
    of the screen, its label and the error itself above it (a review in Chromium)."""
    make_org_key()
    files = _files(tmp_path)
    context = phone_context(browser, javascript=False, locale="ar")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=ar")
        page.fill("#what_happened", "اعتقلوا أخي")
        page.set_input_files("#attachments", files["one"])
        page.click("#send-request")  # no urgency chosen: refused, the file asked for again
        page.locator("#error-summary a[href='#attachments']").click()
        for shown in ("label[for=attachments]:not(.button)", FILE_ERROR, "#attachments"):
            box = page.locator(shown).bounding_box()
            assert box is not None
            assert box["y"] >= 0, (shown, box)
            assert box["y"] + box["height"] <= 740, (shown, box)
    finally:
        context.close()
    assert table_count("cases") == 0


def _reloaded_at_the_review_after_choosing_a_file(context: Any, base: str, tmp_path: Path) -> Any:
    """A page of the request form with a file chosen at the evidence step, then reloaded at the
    review: the answers come back, the file cannot."""
    page = context.new_page()
    page.goto(f"{base}/request?lang=en")
    _to_evidence_step(page)
    page.set_input_files("#attachments", _files(tmp_path)["one"])
    page.click("#step-next")
    page.wait_for_selector("#send-request:visible")
    page.reload()
    page.wait_for_selector("#send-request:visible")
    return page


def _send_again_goes_without_the_files(page: Any) -> None:
    """Send pressed again from the review, after it asked for the files: the request goes."""
    page.evaluate("window.Refuge.steps.show(4)")
    page.click("#send-request")
    page.wait_for_selector("#receipt-code:visible", timeout=30_000)
    assert table_count("cases") == 1


def test_send_after_a_reload_asks_for_the_files_once_then_goes_without_them(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    """Reloaded at the review, the request went without its files at Send, the only word a
    notice at the top of the page (a review in Chromium)."""
    make_org_key()
    context = phone_context(browser, javascript=True)
    context.set_default_timeout(20_000)
    try:
        page = _reloaded_at_the_review_after_choosing_a_file(context, live_server.url, tmp_path)
        page.click("#send-request")
        summary = page.locator("#error-summary a[href='#attachments']")
        expect(summary).to_contain_text(
            "Please attach your files again, or press Send again to send without them."
        )
        assert table_count("cases") == 0
        # Pressed again, it goes without them, as it said.
        _send_again_goes_without_the_files(page)
    finally:
        context.close()


def test_a_send_refused_for_other_answers_too_asks_for_the_files_again_next_time(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    """The files were marked as asked for at the first refused Send even when another answer
    was missing too: once that answer was mended, the next Send went without the files, with
    no word (a re-reading of the change)."""
    make_org_key()
    context = phone_context(browser, javascript=True)
    context.set_default_timeout(20_000)
    try:
        page = _reloaded_at_the_review_after_choosing_a_file(context, live_server.url, tmp_path)
        page.evaluate(
            "(() => { const box = document.getElementById('what_happened'); box.value = '';"
            " box.dispatchEvent(new Event('input', {bubbles: true})); })()"
        )
        page.click("#send-request")
        files_again = page.locator("#error-summary a[href='#attachments']")
        expect(page.locator("#error-summary a[href='#what_happened']")).to_be_visible()
        expect(files_again).to_contain_text("Please attach your files again")

        # The story mended, Send asks for the files once more before it goes without them.
        page.click("#error-summary a[href='#what_happened']")
        page.fill("#what_happened", "Arrêté au poste de contrôle, téléphone saisi.")
        page.evaluate("window.Refuge.steps.show(4)")
        page.click("#send-request")
        expect(files_again).to_contain_text("or press Send again to send without them")
        expect(page.locator("#error-summary a[href='#what_happened']")).to_have_count(0)
        assert table_count("cases") == 0
        _send_again_goes_without_the_files(page)
    finally:
        context.close()


FILE_FIELD = """() => {
  const input = document.getElementById('attachments');
  const picker = document.querySelector('#attachments-field [data-file-picker]');
  const box = input.getBoundingClientRect();
  return {inputShown: getComputedStyle(input).opacity !== '0' && box.width > 2,
          pickerShown: !!picker && !picker.hidden && picker.getBoundingClientRect().height > 0,
          button: picker ? picker.querySelector('label').innerText : null,
          line: picker ? picker.querySelector('.file-chosen').innerText : null,
          describedBy: input.getAttribute('aria-describedby')};
}"""


@pytest.mark.parametrize(
    ("locale", "button", "none", "chosen"),
    [
        ("ar", "اختيار الملفات", "لم يتم اختيار أي ملف بعد.", "الاختيار:"),
        ("zh_Hant", "選擇檔案", "尚未選擇檔案。", "已選擇："),
    ],
)
def test_the_file_field_speaks_the_pages_language_not_the_browsers(
    app: Flask,
    live_server: Any,
    browser: Any,
    tmp_path: Path,
    locale: str,
    button: str,
    none: str,
    chosen: str,
) -> None:
    """In an English browser the file input said "Choose Files" and "No file chosen" on an
    Arabic page (a review in Chromium). With JavaScript the page's words stand in front of it;
    the input keeps the keyboard, and without JavaScript it is the browser's own."""
    make_org_key()
    files = _files(tmp_path)
    context = phone_context(browser, javascript=True)  # an English browser
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        _to_evidence_step(page)
        field = page.evaluate(FILE_FIELD)
        assert not field["inputShown"], field
        assert field["pickerShown"], field
        assert (field["button"], field["line"]) == (button, none)
        assert "attachments-chosen" in field["describedBy"].split()
        page.set_input_files("#attachments", files["six"][:2])
        line = page.evaluate(FILE_FIELD)["line"]
        assert line.startswith(chosen), line
        assert "\u2068photo-0.png\u2069" in line, line
        assert "\u2068photo-1.png\u2069" in line, line
        # The keyboard reaches the input, and the button shows where the focus is.
        page.focus("#attachments")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "attachments"
        outline = page.evaluate(
            "getComputedStyle(document.querySelector('#attachments-field label.button'))"
            ".outlineStyle"
        )
        assert outline == "solid", outline
        page.set_input_files("#attachments", [])
        assert page.evaluate(FILE_FIELD)["line"] == none
    finally:
        context.close()

    plain = phone_context(browser, javascript=False)
    try:
        page = plain.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        field = page.evaluate(FILE_FIELD)
        assert field["inputShown"], field
        assert not field["pickerShown"], field
    finally:
        plain.close()


# The page's words for the file field, and the browser's own, which must not be seen.
PAGE_WORDS = {
    "zh_Hans": ("选择文件", "尚未选择文件。", "已选择："),
    "ar": ("اختيار الملفات", "لم يتم اختيار أي ملف بعد.", "الاختيار:"),
}
BROWSER_WORDS = ("Choose File", "No file chosen", "2 files")
FOCUS_RING = "rgb(255, 191, 71)"  # refuge.css: every focus ring's yellow


@pytest.mark.parametrize("locale", sorted(PAGE_WORDS))
def test_in_an_english_browser_the_file_field_speaks_the_page_opens_by_keyboard_and_sends(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path, locale: str
) -> None:
    """A review in Chromium with the browser in en-US: "Choose Files / No file chosen" on a
    Chinese or Arabic page. With JavaScript the field is in the page's words, the input behind
    them still takes the focus (drawn on the button), Enter and Space open the picker, the
    error beside the field and the summary's link lead to it, a long name wraps at 360 px, and
    the files chosen are sent."""
    make_org_key()
    button, none, chosen = PAGE_WORDS[locale]
    long_name = tmp_path / ("الأدلة-证据-" + "evidence" * 20 + ".png")
    long_name.write_bytes(b"\x89PNG\r\n\x1a\n" + b"long" * 100)
    second = tmp_path / "photo.png"
    second.write_bytes(b"\x89PNG\r\n\x1a\n" + b"second" * 50)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    context = browser.new_context(viewport=PHONE, locale="en-US")
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        # Playwright turns the interception of file choosers on and off around each
        # expect_file_chooser without waiting for it: a key pressed at once sometimes opened
        # the browser's own dialog instead (1 run in 6 here). On for the whole test.
        page.on("filechooser", lambda _chooser: None)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.url}/request?lang={locale}")
        _to_evidence_step(page)
        field = page.evaluate(FILE_FIELD)
        assert not field["inputShown"], field
        assert field["pickerShown"], field
        assert (field["button"], field["line"]) == (button, none)
        shown = page.inner_text("#attachments-field")
        assert not any(words in shown for words in BROWSER_WORDS), shown

        # The keyboard: Tab lands on the input, the button shows it; Enter opens the picker.
        page.focus("#attachments")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "attachments"
        ring = page.evaluate(
            "(() => { const s = getComputedStyle("
            "document.querySelector('#attachments-field label.button'));"
            " return [s.outlineStyle, s.outlineColor]; })()"
        )
        assert ring == ["solid", FOCUS_RING], ring
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        assert chooser.value.is_multiple()
        chooser.value.set_files(str(empty))
        # An empty file: said beside the field, which the input names, and linked from the
        # summary by Next; the link leads back to the input.
        expect(page.locator(FILE_ERROR)).to_be_visible()
        described = (page.get_attribute("#attachments", "aria-describedby") or "").split()
        assert {"attachments-error", "attachments-chosen"} <= set(described), described
        page.click("#step-next")
        page.click("#error-summary a[href='#attachments']")
        assert page.evaluate("document.activeElement.id") == "attachments"

        # Space opens it too; two files, one with a long name, in the page's words.
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Space")
        chooser.value.set_files([str(long_name), str(second)])
        expect(page.locator(FILE_ERROR)).to_be_hidden()
        line = page.inner_text("#attachments-field .file-chosen")
        assert line.startswith(chosen), line
        assert "photo.png" in line, line
        shown = page.inner_text("#attachments-field")
        assert not any(words in shown for words in BROWSER_WORDS), shown
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.locator("#attachments-field").screenshot(
            path=Path(tempfile.gettempdir()) / f"file-field-{locale}-en-US.png"
        )

        page.click("#step-next")
        page.wait_for_selector("#send-request:visible")
        page.click("#send-request")
        page.wait_for_selector("#receipt-panel:not([hidden])")
        db.session.expire_all()
        assert table_count("cases") == 1
        assert table_count("case_attachments") == 2
        assert errors == []
    finally:
        context.close()


def test_refused_files_are_said_in_chinese_without_a_gap_between_sentences(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    """Two problems with the files, or a problem and a file's name, were joined with a space:
    "個檔案。 有檔案超過 10 MB： video-11mb.mp4" (the page's sentence gap, base.html)."""
    make_org_key()
    files = _files(tmp_path)
    context = phone_context(browser, javascript=True)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=zh_Hant")
        _to_evidence_step(page)
        page.set_input_files("#attachments", [*files["six"], files["big"]])
        error = page.locator(FILE_ERROR)
        expect(error).to_have_text("最多只能附加 5 個檔案。有檔案超過 10 MB：video-11mb.mp4")
    finally:
        context.close()
