"""A field's label leading its error in the error summary is written in one place for the
browser (error-lead.js, window.Refuge.asLead), loaded with its integrity hash by the request
form and the status page; intake.js and status.js each had their own copy. It needs nothing
else: on a status page whose libsodium did not load (blocked, or Tor Browser's "Safest"), it is
there, no script fails, and the follow-up posts as without JavaScript (it was refused for the
flag status-code.js had set, saying the browser would open the messages)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake.web import as_lead
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.test_follow_up_token_browser import _case_with_a_thread

pytestmark = pytest.mark.browser

LABELS = ["Country", "What happened?", "Que s'est-il passé ?", "您的收据代码", "ماذا حدث؟  "]
SCRIPT = re.compile(
    r'<script (?:defer(?:="")? )?src="/static/js/error-lead\.js\?v=[0-9a-f]{12}" '
    r'integrity="sha384-[^"]+">'
)


def _expected(app: Flask, lang: str) -> list[str]:
    with app.test_request_context(f"/request?lang={lang}"):
        return [as_lead(label) for label in LABELS]


@pytest.mark.parametrize("lang", ["en", "fr", "zh_Hans", "ar"])
def test_the_request_form_and_the_status_page_lead_errors_as_the_server_does(
    app: Flask, live_server: Any, browser: Any, lang: str
) -> None:
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.url}/request?lang={lang}")
        assert SCRIPT.search(page.content())
        leads = page.evaluate("labels => labels.map(window.Refuge.asLead)", LABELS)
        assert leads == _expected(app, lang)
        # The request form's summary uses it.
        page.click("#step-next")
        link = page.locator("#error-summary a[href='#what_happened']")
        label = page.evaluate(
            "document.querySelector('#what_happened-field label').firstChild.textContent"
        )
        expect(link).to_have_text(re.compile("^" + re.escape(_lead(app, lang, label))))

        page.goto(f"{live_server.url}/status?lang={lang}")
        page.fill("#code", code)
        page.click("form.status-form button[type=submit]")
        page.wait_for_selector(".message-body.reply-opened >> nth=2")
        assert SCRIPT.search(page.content())
        assert page.evaluate("labels => labels.map(window.Refuge.asLead)", LABELS) == leads
        # The status page's summary uses it.
        page.click("#send-follow-up")
        link = page.locator("#error-summary a[href='#body']")
        label = page.evaluate("document.querySelector('#body-field label').firstChild.textContent")
        expect(link).to_have_text(re.compile("^" + re.escape(_lead(app, lang, label))))
        assert errors == []
    finally:
        context.close()


def _lead(app: Flask, lang: str, label: str) -> str:
    with app.test_request_context(f"/request?lang={lang}"):
        return as_lead(label)


@pytest.mark.parametrize(
    "blocked",
    ["**/static/vendor/libsodium*.js?*", "**/static/js/submitter.js?*"],
    ids=["libsodium", "submitter"],
)
def test_without_the_sealing_scripts_the_status_page_still_leads_and_the_follow_up_goes(
    app: Flask, live_server: Any, browser: Any, blocked: str
) -> None:
    org = make_org_key()
    code = _case_with_a_thread(org)
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.route(blocked, lambda route: route.abort())
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.url}/status?lang=fr")
        page.fill("#code", code)
        page.click("form.status-form button[type=submit]")
        page.wait_for_selector("#follow-up-form")
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.Refuge.asLead") == "function"
        assert page.evaluate("typeof sodium === 'undefined' || !window.Refuge.submitter")
        # status.js stood aside: the form posts as without JavaScript, and the server answers.
        page.fill("#body", "Un message envoyé sans la bibliothèque de chiffrement.")
        page.click("#send-follow-up")
        expect(page.locator("#follow-up-sent")).to_be_visible()
        assert table_count("case_messages") == 4
        # ... and opens the thread for this page, as without JavaScript (the page said the
        # browser would, and showed "Opening…" for ever).
        expect(page.locator(".message-body").last).to_have_text(
            "Un message envoyé sans la bibliothèque de chiffrement."
        )
        assert errors == []
    finally:
        context.close()
