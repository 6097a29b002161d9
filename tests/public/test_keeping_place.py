"""A language change, a reload or a link never loses the defender's place after a post.

- The receipt (JavaScript off) is shown once; its language buttons post the code back and the
  receipt comes again in that language, checked for format only (no look-up, no limit).
- The status page (shown after POST /status, a follow-up or a withdrawal) posts the code again
  to /status from its language buttons, and stays on the case, with the follow-up being
  written still in its box (without JavaScript it is posted back, not sent; with JavaScript it
  waits in the tab and only the code is posted).
- A reload after withdrawing a consent shows the status page with a notice, not an error page.
"""

from __future__ import annotations

import html
import io
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import expect

from intake.models import ConsentPurpose, Urgency
from intake.services import consent, submissions
from intake.services.triage import Routing
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import CSRF_INPUT, csrf_token, full_answers, routing_form
from tests.public.test_browser import fill_request_form

LANGUAGE_BUTTON = re.compile(r'<button type="submit" class="link-button" form="([^"]+)"[^>]*')


def _send_without_js(client: FlaskClient, **routing: Any) -> tuple[str, str]:
    """A request sent with JavaScript off; the receipt page's code and CSRF token."""
    token = csrf_token(client)
    data = {"csrf_token": token, **full_answers(), **routing_form(), **routing}
    response = client.post(
        "/request", data=data, content_type="multipart/form-data", follow_redirects=True
    )
    assert response.status_code == 200, response.text
    code = re.search(r'id="receipt-code">([0-9A-Z-]+)<', response.text)
    assert code
    return code.group(1), response.text


def _language_buttons(page: str) -> list[tuple[str, str]]:
    """(form id, formaction) of every language button on a page."""
    found = []
    for match in LANGUAGE_BUTTON.finditer(page):
        action = re.search(r'formaction="([^"]+)"', match.group(0))
        assert action
        found.append((match.group(1), html.unescape(action.group(1))))
    return found


def _form_fields(page: str, form_id: str) -> dict[str, list[str]]:
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', page, re.S)
    assert form, f"no form {form_id}"
    fields: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form.group(0)):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value:
            fields.setdefault(name.group(1), []).append(html.unescape(value.group(1)))
    return fields


def _submit(org: Any, urgency: Urgency = Urgency.DAYS) -> submissions.Submission:
    return submissions.create_case_from_plaintext(
        Routing(urgency=urgency, threats=["reprisal"], country="TW", consent_given=True),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="en",
    )


# ---------------------------------------------------------------------------------------------
# The receipt without JavaScript


def test_a_language_button_on_the_receipt_shows_it_again_in_that_language(
    roomy_app: Flask,
) -> None:
    make_org_key()
    client = roomy_app.test_client()
    code, page = _send_without_js(client)
    buttons = _language_buttons(page)
    assert buttons, "the receipt's languages post the code back"
    assert {form for form, _action in buttons} == {"receipt-language"}
    action = next(a for _f, a in buttons if "lang=ar" in a)
    assert action.startswith("/request/receipt?")
    fields = _form_fields(page, "receipt-language")
    assert fields["code"] == [code]

    again = client.post(action, data=fields)
    assert again.status_code == 200, again.text
    assert '<html lang="ar" dir="rtl"' in again.text
    assert f'id="receipt-code">{code}<' in again.text
    assert "receipt-gone" not in again.text
    # Still an "Immediate" request: what to do now is still there, in Arabic.
    assert 'id="urgent-help-panel"' in again.text
    assert "إن كنت في خطر الآن" in again.text
    assert fields["urgent_threats"] == ["detention", "reprisal"]
    assert fields["urgent_country"] == ["TW"]
    # And again, to a third language, from the page just shown.
    third = _language_buttons(again.text)
    zh = next(a for _f, a in third if "lang=zh_Hant" in a)
    shown = client.post(zh, data=_form_fields(again.text, "receipt-language"))
    assert shown.status_code == 200
    assert f'id="receipt-code">{code}<' in shown.text
    assert "這是您的收據代碼" in shown.text
    assert shown.headers["Cache-Control"] == "no-store"
    assert table_count("cases") == 1  # nothing sent again


@pytest.mark.parametrize(
    ("lang", "window"),
    [
        ("en", "within 30 minutes of sending"),
        ("es", "durante los 30 minutos siguientes al envío"),
        ("fr", "dans les 30 minutes qui suivent l’envoi"),
        ("ru", "в течение 30 минут после отправки"),
        ("ar", "خلال 30 دقيقة من الإرسال"),
        ("zh_Hant", "送出後 30 分鐘內"),
        ("zh_Hans", "发送后 30 分钟内"),
    ],
)
def test_the_receipt_shown_again_says_how_long_back_and_send_gives_it_back(
    roomy_app: Flask, lang: str, window: str
) -> None:
    """Reloaded, the receipt is gone and the page says Back then Send shows it again: for as
    long as the browser remembers what it sent (SENT_REQUEST_KEPT_SECONDS), not "for a day",
    after which the same answers are a new request with a code of its own."""
    from intake.public import routes

    assert routes.SENT_REQUEST_KEPT_SECONDS == 30 * 60  # the minutes the words say
    make_org_key()
    client = roomy_app.test_client()
    code, _page = _send_without_js(client)
    gone = client.get(f"/request/receipt?lang={lang}")
    assert gone.status_code == 200
    text = html.unescape(gone.text)
    assert 'id="receipt-gone"' in text
    assert code not in text
    assert window in text
    assert "day" not in text.split('id="receipt-gone"')[1].split("</section>")[0]


def test_the_receipts_status_button_opens_the_request_with_its_code_in_no_address_or_log(
    roomy_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Without JavaScript: "Go to the status page" on the receipt posts the code along (a link
    to /status asked the person to type the code they may not have written down yet), and the
    status page opens this request; the code is in no address and in no line of the logs."""
    caplog.set_level(logging.DEBUG)
    make_org_key()
    client = roomy_app.test_client()
    code, page = _send_without_js(client)
    button = re.search(r'<form method="post" action="([^"]+)"[^>]*id="receipt-status"', page)
    assert button, "the receipt's status button is a form that posts"
    action = html.unescape(button.group(1))
    fields = _form_fields(page, "receipt-status")
    assert fields["code"] == [code]
    compact = code.replace("-", "")
    assert code not in action
    assert compact not in action

    opened = client.post(action, data=fields)
    assert opened.status_code == 200, opened.text
    assert 'id="shared-status" data-status="received"' in opened.text
    assert 'id="code"' not in opened.text  # no box to type the code in
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    # The page's own forms (a message, a language) carry it on, posted as it came.
    assert _form_fields(opened.text, "follow-up-form")["code"] == [code]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert code not in logged
    assert compact not in logged
    assert table_count("cases") == 1


def test_the_urgent_guidance_comes_back_only_with_the_urgent_facts(roomy_app: Flask) -> None:
    make_org_key()
    client = roomy_app.test_client()
    code, page = _send_without_js(client)
    fields = _form_fields(page, "receipt-language")
    with_facts = client.post("/request/receipt?lang=es", data=fields)
    without = client.post(
        "/request/receipt?lang=es", data={"csrf_token": fields["csrf_token"], "code": code}
    )
    assert 'id="urgent-help-panel"' in with_facts.text
    # Sent: not "además de enviar este formulario", which read as a step left (a review).
    assert "Su solicitud está enviada." in with_facts.text
    assert "además de enviar este formulario" not in with_facts.text
    assert 'id="urgent-help-panel"' not in without.text
    assert f'id="receipt-code">{code}<' in without.text


def test_the_receipt_in_another_language_checks_only_the_format_of_the_code(
    roomy_app: Flask,
) -> None:
    """No look-up: a well-formed code nobody holds is shown back like any (no oracle), and
    spending no look-up, it counts against no limit."""
    make_org_key()
    client = roomy_app.test_client()
    token = csrf_token(client)
    unknown = "ABCD-EFGH-JKMN-PQRS-TVWX"
    response = client.post("/request/receipt?lang=fr", data={"csrf_token": token, "code": unknown})
    assert response.status_code == 200
    assert f'id="receipt-code">{unknown}<' in response.text
    # Typed loosely, it is shown in its written form.
    loose = client.post(
        "/request/receipt?lang=fr", data={"csrf_token": token, "code": unknown.lower()}
    )
    assert f'id="receipt-code">{unknown}<' in loose.text


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"code": "not a code"}, "This is not a receipt code"),
        ({"code": "<script>alert(1)</script>"}, "This is not a receipt code"),
        ({"code": ["ABCD-EFGH-JKMN-PQRS-TVWX", "ABCD-EFGH-JKMN-PQRS-TVWY"]}, "could not be"),
        ({"code": "ABCD-EFGH-JKMN-PQRS-TVWX", "body": "x"}, "could not be understood"),
        ({}, "This is not a receipt code"),
    ],
    ids=["malformed", "markup", "twice", "unexpected-field", "empty"],
)
def test_hostile_receipt_posts_are_refused_clearly(
    roomy_app: Flask, data: dict[str, Any], expected: str
) -> None:
    make_org_key()
    client = roomy_app.test_client()
    token = csrf_token(client)
    response = client.post("/request/receipt?lang=en", data={"csrf_token": token, **data})
    assert response.status_code == 400
    assert expected in response.text
    assert "<script>alert" not in response.text


def test_a_receipt_post_without_a_valid_token_shows_no_code(roomy_app: Flask) -> None:
    """Another site cannot show someone a receipt with a code of its choosing."""
    make_org_key()
    code = "ABCD-EFGH-JKMN-PQRS-TVWX"
    response = roomy_app.test_client().post(
        "/request/receipt?lang=en", data={"csrf_token": "forged", "code": code}
    )
    assert response.status_code == 400
    assert code not in response.text
    assert "Back button" in response.text


# ---------------------------------------------------------------------------------------------
# The status page


def _open_status(client: FlaskClient, code: str, lang: str = "en") -> Any:
    token = csrf_token(client, f"/status?lang={lang}")
    response = client.post(f"/status?lang={lang}", data={"csrf_token": token, "code": code})
    assert response.status_code == 200, response.text
    return response


def _change_language(client: FlaskClient, page: str, lang: str, body: str = "") -> Any:
    """A language button of the status page without JavaScript: it posts the follow-up form
    (the code, and ``body`` as typed in its box) back to /status."""
    buttons = _language_buttons(page)
    assert buttons, "the status page's languages post the code again"
    assert {form for form, _action in buttons} == {"follow-up-form"}
    action = next(a for _f, a in buttons if f"lang={lang}" in a)
    assert action.startswith("/status?"), action
    return client.post(action, data={**_form_fields(page, "follow-up-form"), "body": body})


def test_a_language_button_on_the_status_page_stays_on_the_case(roomy_app: Flask) -> None:
    submission = _submit(make_org_key())
    client = roomy_app.test_client()
    page = _open_status(client, submission.receipt_code)
    assert 'href="/?lang=' not in page.text.split("</header>")[0]  # no way to the landing page
    changed = _change_language(client, page.text, "zh_Hant")
    assert changed.status_code == 200
    assert 'id="shared-status"' in changed.text
    assert '<html lang="zh-Hant"' in changed.text
    changed = _change_language(client, changed.text, "ar")
    assert 'dir="rtl"' in changed.text
    assert 'id="shared-status"' in changed.text


def test_a_language_change_keeps_the_follow_up_being_written(roomy_app: Flask) -> None:
    """Without JavaScript the message typed in "Send more information" was lost on a language
    change. It comes back in the box, in the new language; nothing is sent or stored."""
    submission = _submit(make_org_key())
    client = roomy_app.test_client()
    page = _open_status(client, submission.receipt_code)
    assert 'formenctype="application/x-www-form-urlencoded"' in page.text  # files stay home
    messages = table_count("case_messages")
    written = "Mañana llevo el acta <b>firmada</b> & el informe"
    changed = _change_language(client, page.text, "es", body=written)
    assert changed.status_code == 200
    assert '<html lang="es"' in changed.text
    assert 'id="shared-status"' in changed.text
    box = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', changed.text, re.S)
    assert box
    assert html.unescape(box.group(1)).strip() == written
    assert "<b>firmada</b>" not in changed.text  # escaped, as everything typed
    assert 'aria-invalid="true"' not in changed.text  # not checked: it was not sent
    assert table_count("case_messages") == messages
    # Text over the limit comes back whole (it was cut to 8000 without a word), with the
    # length error beside the box, in the new language; never an error page.
    huge = _change_language(client, changed.text, "fr", body="x" * 100_000)
    assert huge.status_code == 200
    box = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', huge.text, re.S)
    assert box
    assert html.unescape(box.group(1)).strip() == "x" * 100_000
    assert "Veuillez raccourcir" in huge.text
    assert 'aria-invalid="true"' in huge.text
    assert table_count("case_messages") == messages


def test_after_a_follow_up_and_a_withdrawal_the_language_still_goes_to_the_case(
    roomy_app: Flask,
) -> None:
    submission = _submit(make_org_key())
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    sent = client.post(
        "/status/follow-up?lang=en",
        data={
            "csrf_token": token,
            "code": submission.receipt_code,
            "body": "more",
            "attachments": (io.BytesIO(b""), ""),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 200, sent.text
    assert "follow-up-sent" in sent.text
    changed = _change_language(client, sent.text, "es")
    assert 'id="shared-status"' in changed.text
    assert "Usted escribió" in changed.text

    record = next(
        r
        for r in consent.records(submission.case)
        if r.purpose is ConsentPurpose.SHARE_WITH_ORGANISATION
    )
    withdrawn = client.post(
        "/status/consent/withdraw?lang=en",
        data={
            "csrf_token": token,
            "code": submission.receipt_code,
            "record_id": str(record.id),
            "confirmed": "yes",
        },
    )
    assert withdrawn.status_code == 200
    changed = _change_language(client, withdrawn.text, "fr")
    assert 'id="shared-status"' in changed.text
    assert '<html lang="fr"' in changed.text


def test_language_changes_on_the_status_page_spend_no_status_look_ups(make_app: Any) -> None:
    """Like every successful view of the case: only refused look-ups count (guessing)."""
    app = make_app("sqlite", STATUS_RATE_LIMIT="2 per hour")
    with app.app_context():
        submission = _submit(make_org_key())
        client = app.test_client()
        page = _open_status(client, submission.receipt_code)
        for lang in ("es", "fr", "ru", "ar", "zh_Hans", "en"):
            page = _change_language(client, page.text, lang)
            assert page.status_code == 200, lang
        token = CSRF_INPUT.search(page.text)
        assert token
        wrong = {"csrf_token": token.group(1), "code": "ABCD-EFGH-JKMN-PQRS-TVWX"}
        assert client.post("/status", data=wrong).status_code == 404
        assert client.post("/status", data=wrong).status_code == 404
        assert client.post("/status", data=wrong).status_code == 429


def test_a_reload_after_withdrawing_shows_the_status_page_with_a_notice(
    roomy_app: Flask,
) -> None:
    submission = _submit(make_org_key())
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    record = next(
        r
        for r in consent.records(submission.case)
        if r.purpose is ConsentPurpose.SHARE_WITH_ORGANISATION
    )
    data = {
        "csrf_token": token,
        "code": submission.receipt_code,
        "record_id": str(record.id),
        "confirmed": "yes",
    }
    assert client.post("/status/consent/withdraw?lang=zh_Hant", data=data).status_code == 200
    reloaded = client.post("/status/consent/withdraw?lang=zh_Hant", data=data)
    assert reloaded.status_code == 200
    assert 'id="shared-status"' in reloaded.text
    assert "此同意已經撤回。沒有任何變更。" in reloaded.text
    assert f'data-consent-record="{record.id}" data-withdrawn' in reloaded.text


# ---------------------------------------------------------------------------------------------
# In Chromium (360 px phone), JavaScript on and off

SHOTS = Path(tempfile.gettempdir())  # screenshots to look at by hand


def _phone(browser: Any, javascript: bool) -> Any:
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, java_script_enabled=javascript, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    return context


def _language(page: Any, code: str) -> None:
    """A language button: the page it posts to, loaded (its scripts at the end of the body
    have run, so its guards and handlers are on before the test touches it)."""
    page.click(f".language-switch [lang='{code}']")
    page.wait_for_load_state("load")


def _open_case(page: Any, url: str, code: str) -> None:
    """The status page in 繁體中文, opened with the receipt code as a defender would."""
    page.goto(f"{url}/status?lang=zh_Hant")
    page.fill("#code", code)
    page.click("button[type=submit]")
    page.wait_for_selector("#shared-status")
    # The click waits only for the new page to start: status.js comes after the follow-up
    # form (and libsodium), and a press before it ran posts the form without JavaScript.
    page.wait_for_load_state("load")


@pytest.mark.browser
def test_without_js_the_receipt_survives_a_language_change_in_chromium(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = _phone(browser, javascript=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=zh_Hant")
        fill_request_form(page)
        page.click("#send-request")
        page.wait_for_selector("#receipt-code")
        code = page.inner_text("#receipt-code").strip()
        _language(page, "ar")
        page.wait_for_selector("html[lang='ar']")
        assert page.inner_text("#receipt-code").strip() == code
        assert page.locator("#urgent-help-panel").is_visible()
        page.screenshot(path=SHOTS / "receipt-nojs-ar-360.png", full_page=True)
        _language(page, "zh-Hant")
        page.wait_for_selector("html[lang='zh-Hant']")
        assert page.inner_text("#receipt-code").strip() == code
        assert not page.locator("#receipt-kept-row").is_visible()  # a JavaScript aid only
        page.screenshot(path=SHOTS / "receipt-nojs-zh_Hant-360.png", full_page=True)
        # "Go to the status page" opens this request, not an empty form.
        page.click("#receipt-status button")
        page.wait_for_selector("#shared-status")
        assert page.get_attribute("#shared-status", "data-status") == "received"
    finally:
        context.close()


@pytest.mark.browser
def test_with_js_the_receipt_asks_before_leaving_until_the_code_is_kept(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = _phone(browser, javascript=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        asked: list[str] = []

        def dismiss(dialog: Any) -> None:
            asked.append(dialog.type)
            dialog.dismiss()

        page.on("dialog", dismiss)
        page.goto(f"{live_server.url}/request?lang=ar")
        fill_request_form(page)
        page.click("#send-request")
        page.wait_for_selector("#receipt-panel:not([hidden])")
        code = page.inner_text("#receipt-code").strip()
        assert page.locator("#receipt-kept").is_visible()
        # "Immediate": what to do now stays on screen, under the receipt (the form is gone).
        urgent = page.locator("#urgent-help-panel")
        expect(urgent).to_be_visible()
        receipt_box = page.locator("#receipt-panel").bounding_box()
        urgent_box = urgent.bounding_box()
        assert receipt_box is not None
        assert urgent_box is not None
        assert urgent_box["y"] >= receipt_box["y"] + receipt_box["height"]
        # Sent: not "as well as sending this form", which read as a step left (a review).
        expect(urgent.locator("[data-before-sending]")).to_be_hidden()
        expect(urgent.locator("[data-after-sending]")).to_be_visible()
        page.screenshot(path=SHOTS / "receipt-js-ar-360.png", full_page=True)
        # Leaving asks first, and staying keeps the code on screen.
        page.click("#org-name", no_wait_after=True)
        page.wait_for_timeout(500)
        assert asked == ["beforeunload"]
        assert page.url.startswith(f"{live_server.url}/request")
        assert page.inner_text("#receipt-code").strip() == code
        # A language button posts the code along: the receipt again, in that language.
        _language(page, "zh-Hant")
        page.wait_for_selector("html[lang='zh-Hant']")
        assert "/request/receipt" in page.url
        assert page.inner_text("#receipt-code").strip() == code
        assert asked == ["beforeunload"]
        assert page.locator("#urgent-help-panel").is_visible()  # still "Immediate"
        page.screenshot(path=SHOTS / "receipt-js-zh_Hant-360.png", full_page=True)
        # The receipt page asks too, until the code is copied with the button.
        page.click("#org-name", no_wait_after=True)
        page.wait_for_timeout(500)
        assert asked == ["beforeunload", "beforeunload"]
        page.click("#copy-receipt")
        expect(page.locator("#receipt-kept")).to_be_checked()
        assert page.evaluate("navigator.clipboard.readText()") == code
        # Nothing of the code is kept in the browser's storage.
        stored = page.evaluate(
            "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
        )
        assert code not in stored
        # "Go to the status page" opens this request, without asking.
        page.click("#receipt-status button")
        page.wait_for_selector("#shared-status")
        assert asked == ["beforeunload", "beforeunload"]
        assert errors == []
    finally:
        context.close()


@pytest.mark.browser
def test_with_js_ticking_the_box_lets_the_person_leave(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = _phone(browser, javascript=True)
    try:
        page = context.new_page()
        asked: list[str] = []

        def dismiss(dialog: Any) -> None:
            asked.append(dialog.type)
            dialog.dismiss()

        page.on("dialog", dismiss)
        page.goto(f"{live_server.url}/request?lang=en")
        fill_request_form(page)
        page.click("#send-request")
        page.wait_for_selector("#receipt-panel:not([hidden])")
        page.check("#receipt-kept")
        page.click("#org-name")
        page.wait_for_url(f"{live_server.url}/")
        assert asked == []
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_follow_up_just_sent_appears_in_the_thread(
    app: Flask, live_server: Any, browser: Any, javascript: bool
) -> None:
    submission = _submit(make_org_key())
    context = _phone(browser, javascript)
    try:
        page = context.new_page()
        _open_case(page, live_server.url, submission.receipt_code)
        assert page.locator("#thread-empty").is_visible()
        if not javascript:
            # Sent empty: the page that answers opens at what to mend, not at its top (the
            # error summary was some 1,000 px down a phone's page, and nothing seemed to happen).
            page.click("#follow-up-form button[type=submit]")
            expect(page.locator("#follow-up-form [aria-invalid=true]")).to_have_count(1)
            expect(page.locator("#error-summary")).to_be_in_viewport()
        page.fill("#body", "我會再寄一份文件")
        page.click("#follow-up-form button[type=submit]")
        if javascript:
            expect(page.locator("#send-status")).to_have_text("您的訊息已安全送出。")
            expect(page.locator("#send-status")).to_be_in_viewport()
        else:
            page.wait_for_selector("#follow-up-sent")
            expect(page.locator("#follow-up-sent")).to_be_in_viewport()  # the page opens there
        # The message just sent is in the thread, in the page's language, as it is without JS.
        expect(page.locator("#thread .message-own .message-body")).to_have_text("我會再寄一份文件")
        expect(page.locator("#thread .message-own strong")).to_have_text("您寫的")
        assert page.locator("#thread-empty").count() == 0
        mode = "js" if javascript else "nojs"
        page.screenshot(path=SHOTS / f"status-sent-{mode}-zh_Hant-360.png", full_page=True)
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_after_a_follow_up_a_language_change_in_chromium_stays_on_the_case(
    app: Flask, live_server: Any, browser: Any, javascript: bool
) -> None:
    """After the follow-up's own post (no-JS) or on the page (JS): the case, in Arabic."""
    submission = _submit(make_org_key())
    context = _phone(browser, javascript)
    try:
        page = context.new_page()
        _open_case(page, live_server.url, submission.receipt_code)
        page.fill("#body", "我會再寄一份文件")
        page.click("#follow-up-form button[type=submit]")
        expect(page.locator("#thread .message-own .message-body")).to_have_text("我會再寄一份文件")
        _language(page, "ar")
        page.wait_for_selector("html[lang='ar']")
        page.wait_for_selector("#shared-status")
        if javascript:
            page.wait_for_selector(".message-body.reply-opened")
        expect(page.locator("#thread .message-own .message-body")).to_have_text("我會再寄一份文件")
        expect(page.locator("#thread .message-own strong")).to_have_text("كتبتَ")
        mode = "js" if javascript else "nojs"
        page.screenshot(path=SHOTS / f"status-{mode}-ar-360.png", full_page=True)
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_follow_up_being_written_survives_a_language_change_in_chromium(
    app: Flask, live_server: Any, browser: Any, javascript: bool
) -> None:
    """The message stays in the box; with JavaScript it is never posted in the clear (it waits
    in the tab, and only the code is posted)."""
    submission = _submit(make_org_key())
    context = _phone(browser, javascript)
    posted: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None
        )
        _open_case(page, live_server.url, submission.receipt_code)
        written = "明天我會帶已簽名的文件 CANARY-LANG"
        page.fill("#body", written)
        _language(page, "es")
        page.wait_for_selector("html[lang='es']")
        page.wait_for_selector("#shared-status")
        expect(page.locator("#body")).to_have_value(written)
        if javascript:
            assert not [data for data in posted if "CANARY-LANG" in data]
            # Taken out of the tab once it is back in the box.
            left = page.evaluate("() => window.sessionStorage.getItem('refuge.status-draft')")
            assert left is None
        assert table_count("case_messages") == 0
        mode = "js" if javascript else "nojs"
        page.screenshot(path=SHOTS / f"status-draft-{mode}-es-360.png", full_page=True)
    finally:
        context.close()


def test_the_confirmation_of_a_withdrawal_changes_language_back_to_the_case(
    roomy_app: Flask,
) -> None:
    """Its language buttons post the code to /status (as "No, keep it"): nothing withdrawn."""
    submission = _submit(make_org_key())
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    record = consent.records(submission.case)[0]
    asked = client.post(
        "/status/consent/withdraw?lang=en",
        data={"csrf_token": token, "code": submission.receipt_code, "record_id": str(record.id)},
    )
    assert "Withdraw this consent?" in asked.text
    buttons = _language_buttons(asked.text)
    assert {form for form, _action in buttons} == {"keep-consent-form"}
    action = next(a for _f, a in buttons if "lang=ru" in a)
    assert action.startswith("/status?")
    changed = client.post(action, data=_form_fields(asked.text, "keep-consent-form"))
    assert changed.status_code == 200
    assert 'id="shared-status"' in changed.text
    assert '<html lang="ru"' in changed.text
    assert consent.records(submission.case)[0].active


def test_the_code_form_shown_again_after_a_post_changes_language_in_place(
    roomy_app: Flask,
) -> None:
    """A wrong code shows the form again (after a POST): its language links lead to the status
    form in that language, not to the landing page."""
    make_org_key()
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    wrong = client.post("/status", data={"csrf_token": token, "code": "ABCD-EFGH-JKMN-PQRS-TVWX"})
    assert wrong.status_code == 404
    header = wrong.text.split("</header>")[0]
    assert 'href="/status?lang=zh_Hant"' in header
    assert 'href="/?lang=' not in header


def test_unknown_urgent_facts_are_dropped_not_echoed(roomy_app: Flask) -> None:
    make_org_key()
    client = roomy_app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/request/receipt?lang=en",
        data={
            "csrf_token": token,
            "code": "ABCD-EFGH-JKMN-PQRS-TVWX",
            "urgent_threats": ["detention", "QZXjunk", "detention"],
            "urgent_country": "QZ",
        },
    )
    assert response.status_code == 200
    assert "QZXjunk" not in response.text
    assert 'value="QZ"' not in response.text
    assert _form_fields(response.text, "receipt-language")["urgent_threats"] == ["detention"]
    assert 'id="urgent-help-panel"' in response.text
