"""The intake form in real Chromium, in 繁體中文, with JavaScript on and off.

With JavaScript on, the request bodies carry only ciphertext; either way, nothing the person
wrote is found in the database, instance/ or the logs, and the organisation's secret key opens
every answer and the photo.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from intake import crypto
from intake.extensions import db
from intake.models import Case, CaseMessage, MessageKind, SealedBy, Urgency
from intake.services import consent, submissions
from intake.services.triage import Routing
from tests.builders import OrgKeyPair, make_org_key
from tests.public.conftest import (
    CANARY,
    CHOICE_ANSWERS,
    FREE_TEXT_FIELDS,
    PHOTO_BYTES,
    PHOTO_NAME,
    canary_for,
    canary_needles,
    database_text,
    files_containing,
    full_answers,
)
from tests.sealed import open_file, open_message

pytestmark = pytest.mark.browser


def _step_of(page: Any, name: str) -> int:
    return int(
        page.evaluate(f"document.querySelector('[name={name}]').closest('.form-step').dataset.step")
    )


def _fill_one(page: Any, name: str) -> None:
    if name in CHOICE_ANSWERS:
        page.check(f"input[name={name}][value={CHOICE_ANSWERS[name]}]")
    elif name == "urgency":
        page.check("input[name=urgency][value=immediate]")
    elif name == "threats":
        page.check("input[name=threats][value=detention]")
        page.check("input[name=threats][value=reprisal]")
    elif name == "profiles":
        page.check("input[name=profiles][value=lawyer]")
    elif name == "country":
        page.select_option("select[name=country]", "TW")
    elif name == "languages":
        page.check("input[name=languages][value=zh]")
    elif name == "languages_other":
        page.select_option("select[name=languages_other]", "yo")
    elif name == "attachments":
        page.set_input_files(
            "input[name=attachments]",
            files=[{"name": PHOTO_NAME, "mimeType": "image/png", "buffer": PHOTO_BYTES}],
        )
    else:
        page.fill(f"[name={name}]", canary_for(name))


FORM_FIELDS = (*FREE_TEXT_FIELDS, *CHOICE_ANSWERS, "urgency", "threats", "profiles", "country",
               "languages", "languages_other", "attachments")  # fmt: skip


def fill_request_form(page: Any) -> None:
    """Everything answered; with JavaScript on, step by step with the Next button, and the
    page left on "Review and send"."""
    stepped = page.locator("#step-nav").is_visible()
    by_step: dict[int, list[str]] = {}
    for name in FORM_FIELDS:
        by_step.setdefault(_step_of(page, name), []).append(name)
    for number in sorted(by_step):
        folds = page.locator(f"[data-step='{number}'] details[data-fold]:not([open]) > summary")
        for fold in folds.all():
            fold.click()
        for name in by_step[number]:
            _fill_one(page, name)
        if stepped:
            page.click("#step-next")
            page.wait_for_selector(f"[data-step='{number + 1}']:not([hidden])")


class BodyRecorder:
    """WSGI middleware keeping the raw request bodies the server received from the browser.

    Chromium does not expose multipart bodies holding Blobs to ``page.on("request")``, so the
    bytes are also taken where they arrive: exactly what went over the wire.
    """

    def __init__(self, app: Flask) -> None:
        self.wrapped = app.wsgi_app
        self.bodies: list[bytes] = []
        app.wsgi_app = self  # type: ignore[method-assign]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            body = environ["wsgi.input"].read(length)
            self.bodies.append(body)
            environ["wsgi.input"] = io.BytesIO(body)
        return self.wrapped(environ, start_response)


def the_case() -> Case:
    db.session.expire_all()
    return db.session.scalars(sa.select(Case)).one()


def assert_case_opens_to_everything_typed(case: Case, org: OrgKeyPair) -> None:
    assert crypto.open_answers(case.sealed_answers, org.secret) == full_answers()
    (attachment,) = case.attachments
    # Padded to its bucket before sealing: neither the ciphertext nor the clear size is exact.
    assert crypto.is_file_bucket(attachment.size)
    assert len(attachment.sealed_content) == attachment.size + crypto.SEAL_OVERHEAD
    photo = open_file(attachment.sealed_content, org.secret)
    assert photo.name == PHOTO_NAME
    assert photo.content_type == "image/png"
    assert photo.data == PHOTO_BYTES
    assert case.threats == ["detention", "reprisal"]
    assert case.profiles == ["lawyer"]
    assert case.country == "TW"
    assert case.languages == ["zh", "yo"]
    assert case.consent_given is True
    # The form's yes is on record per purpose, from the form, at arrival (issue 12).
    records = consent.records(case)
    assert {r.purpose.value for r in records} == {"share_with_organisation", "un_submission"}
    assert {(r.given_via.value, r.given_at) for r in records} == {("intake_form", case.received_at)}
    assert case.locale == "zh_Hant"


def assert_no_plaintext_anywhere(app: Flask, tmp_path: Path, logs: str) -> None:
    assert CANARY not in database_text(app)
    assert files_containing(tmp_path, canary_needles()) == []
    assert files_containing(Path(app.instance_path), canary_needles()) == []
    assert CANARY not in logs
    assert "QZXcanary" not in logs


def test_js_path_sends_only_ciphertext_and_the_org_secret_opens_everything(
    app: Flask, live_server: Any, page: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    org = make_org_key()
    recorder = BodyRecorder(app)
    bodies: list[bytes] = []
    urls: list[str] = []
    page.on("request", lambda request: bodies.append(request.post_data_buffer or b""))
    page.on("request", lambda request: urls.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: errors.append(r.url) if r.status >= 400 and "favicon" not in r.url else None,
    )

    page.goto(f"{live_server.url}/request?lang=zh_Hant")
    assert page.locator("html").get_attribute("lang") == "zh-Hant"
    assert org.key.fingerprint in (page.text_content("[data-step='5']") or "")
    fill_request_form(page)
    page.click("#send-request")
    page.wait_for_selector("#receipt-panel:not([hidden])")
    code = page.inner_text("#receipt-code").strip()
    assert crypto.normalise_receipt_code(code) is not None
    assert page.locator("#copy-receipt").is_visible()
    assert errors == []
    third_party = [url for url in urls if not url.startswith(live_server.url)]
    assert third_party == [], "no third-party requests"

    posted = [body for body in [*bodies, *recorder.bodies] if body]
    assert any(b'name="sealed_answers"' in body for body in recorder.bodies)
    for body in posted:
        for needle in [*canary_needles(), PHOTO_NAME.encode(), b"QZXcanary"]:
            assert needle not in body

    case = the_case()
    assert case.sealed_by is SealedBy.BROWSER
    assert submissions.find_case_by_receipt(code) == case
    assert_case_opens_to_everything_typed(case, org)
    assert_no_plaintext_anywhere(app, tmp_path, caplog.text)


def test_no_js_path_is_sealed_by_the_server_and_the_org_secret_opens_everything(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    org = make_org_key()
    context = browser.new_context(java_script_enabled=False, locale="zh-TW")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request")
        assert page.locator("html").get_attribute("lang") == "zh-Hant"  # browser language
        fill_request_form(page)
        page.click("#send-request")
        page.wait_for_selector("#receipt-code")
        code = page.inner_text("#receipt-code").strip()
        assert crypto.normalise_receipt_code(code) is not None
        assert "我們已收到您的請求" in page.inner_text("h1")
    finally:
        context.close()

    case = the_case()
    assert case.sealed_by is SealedBy.SERVER
    assert_case_opens_to_everything_typed(case, org)
    assert_no_plaintext_anywhere(app, tmp_path, caplog.text)


def test_client_side_errors_keep_the_text_and_link_to_the_fields(
    app: Flask, live_server: Any, page: Any
) -> None:
    make_org_key()
    page.goto(f"{live_server.url}/request?lang=zh_Hant")
    page.fill("[name=sender_name]", canary_for("sender_name"))
    page.click("#step-next")  # the first step needs what happened and how urgent
    summary = page.locator("#error-summary")
    summary.wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    links = summary.locator("a")
    assert links.count() == 2
    assert links.first.get_attribute("href") == "#what_happened"
    assert page.input_value("[name=sender_name]") == canary_for("sender_name")
    # The server form's own message for the question (data-required), not a generic one.
    # (No colon after the label's own question mark: "？:" read as a typo.)
    assert "情況有多緊急？請選擇緊急程度。" in page.inner_text("#error-summary")  # (no space)
    assert page.locator("#what_happened").get_attribute("aria-invalid") == "true"
    # Keyboard: following the link moves focus to the field.
    links.first.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.name") == "what_happened"
    # The consent questions are checked by their own step's Next, the same way.
    page.fill("#what_happened", canary_for("what_happened"))
    page.check("input[name=urgency][value=days]")
    page.click("#step-next")
    expect(summary).to_be_hidden()
    page.click("#step-next")
    expect(summary.locator("a")).to_have_count(2)
    assert summary.locator("a").first.get_attribute("href") == "#consent-0"
    assert page.locator("[data-step='2']").is_visible()
    # The last check before sending still covers everything, whichever way the person came.
    page.evaluate("window.Refuge.steps.show(4)")
    page.click("#send-request")
    expect(summary.locator("a")).to_have_count(2)
    assert page.locator("[data-step='2']").is_visible()
    db.session.rollback()
    assert db.session.scalars(sa.select(Case)).all() == []


def test_status_shows_the_reply_opened_in_the_browser_and_sends_a_sealed_follow_up(
    app: Flask, live_server: Any, page: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    org = make_org_key()
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="en",
    )
    case = submission.case
    assert case.reply_public_key is not None  # cases made from the form always have one
    reply = "We found a lawyer in Taipei — 我們找到了律師"
    db.session.add(
        CaseMessage(
            case_id=case.id,
            kind=MessageKind.STAFF_REPLY,
            sealed_body=crypto.seal_answers({"body": reply}, case.reply_public_key),
        )
    )
    db.session.commit()
    recorder = BodyRecorder(app)
    bodies: list[bytes] = []
    page.on("request", lambda request: bodies.append(request.post_data_buffer or b""))

    page.goto(f"{live_server.url}/status")
    page.fill("#code", submission.receipt_code.lower())
    page.click("button[type=submit]")
    page.wait_for_selector(".reply-opened")
    assert page.inner_text(".reply-opened") == reply
    assert page.get_attribute("#shared-status", "data-status") == "received"

    follow_up = f"follow-up {CANARY}"
    page.fill("#body", follow_up)
    page.set_input_files(
        "#attachments", files=[{"name": "more.png", "mimeType": "image/png", "buffer": PHOTO_BYTES}]
    )
    page.click("#follow-up-form button[type=submit]")
    expect(page.locator("#send-status")).to_contain_text("sent securely")
    assert page.input_value("#body") == ""
    assert any(b'name="sealed_body"' in body for body in recorder.bodies)
    for body in [*bodies, *recorder.bodies]:
        assert CANARY.encode() not in body
        assert b"QZXcanary" not in body
    db.session.expire_all()
    message = db.session.scalars(
        sa.select(CaseMessage).where(CaseMessage.kind == MessageKind.SUBMITTER_FOLLOW_UP)
    ).one()
    assert open_message(message.sealed_body, org.secret) == follow_up
    assert CANARY not in caplog.text


def test_a_wrong_code_is_refused_in_the_browser(app: Flask, live_server: Any, page: Any) -> None:
    make_org_key()
    page.goto(f"{live_server.url}/status?lang=zh_Hans")
    page.fill("#code", "AAAA-BBBB-CCCC-DDDD-EEEE")
    page.click("button[type=submit]")
    page.wait_for_selector("#error-summary:not([hidden])")
    assert "没有请求使用此收据代码" in page.inner_text("#error-summary")


def test_an_expired_session_does_not_lose_the_text_on_the_js_path(
    app: Flask, live_server: Any, page: Any
) -> None:
    """The token is fetched fresh right before sealing, so hours of writing survive an
    expired session (here: every cookie gone, as after a browser restart)."""
    org = make_org_key()
    page.goto(f"{live_server.url}/request?lang=zh_Hant")
    fill_request_form(page)
    page.context.clear_cookies()
    page.click("#send-request")
    page.wait_for_selector("#receipt-panel:not([hidden])")
    assert_case_opens_to_everything_typed(the_case(), org)


def test_drafts_are_kept_on_the_device_only_when_asked(
    app: Flask, live_server: Any, page: Any
) -> None:
    make_org_key()
    page.goto(f"{live_server.url}/request")
    page.fill("#what_happened", "draft text")
    assert page.evaluate("() => localStorage.length") == 0  # off by default
    page.check("input[name=urgency][value=days]")
    page.click("#step-next")
    page.check("input[name=consent][value=yes]")
    page.check("input[name=referral_consent][value=yes]")
    for _step in range(3):
        page.click("#step-next")
    page.check("#keep-draft")
    page.click("#step-back")
    page.click("#step-back")
    page.fill("#context", "more draft")
    page.evaluate("() => sessionStorage.clear()")  # only the opt-in draft brings these back
    page.reload()
    assert page.input_value("#what_happened") == "draft text"
    assert page.input_value("#context") == "more draft"
    # Put back, and said so (on a shared device it may be someone else's)...
    assert page.locator("#draft-restored-notice").is_visible()
    for _step in range(4):
        page.click("#step-next")
    page.uncheck("#keep-draft")
    assert page.evaluate("() => localStorage.length") == 0

    # A choice made in this tab stands against the draft's: the draft fills only what is
    # unanswered (here the tab keeps "days"; the draft on the device says "weeks").
    page.check("#keep-draft")
    page.evaluate(
        """() => {
          const draft = JSON.parse(localStorage.getItem("refuge-intake-draft"));
          delete draft["urgency=days"];
          draft["urgency=weeks"] = true;
          localStorage.setItem("refuge-intake-draft", JSON.stringify(draft));
        }"""
    )
    page.reload()
    assert page.is_checked("input[name=urgency][value=days]")
    assert not page.is_checked("input[name=urgency][value=weeks]")
    expect(page.locator("[data-step='5']")).to_be_visible()  # a reload keeps its step

    # ...with a way to delete it from the device and from the fields it filled.
    page.check("#keep-draft")
    page.evaluate("() => sessionStorage.clear()")
    page.reload()
    notice = page.locator("#draft-restored-notice")
    assert notice.is_visible()
    page.click("#delete-draft")
    assert notice.is_hidden()
    assert page.locator("#draft-deleted").is_visible()  # said, not only gone
    assert page.input_value("#what_happened") == ""
    assert page.evaluate("() => localStorage.length") == 0
    page.evaluate("() => sessionStorage.clear()")
    page.reload()
    assert page.input_value("#what_happened") == ""
    assert page.locator("#draft-restored-notice").is_hidden()
