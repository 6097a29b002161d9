"""Real Chromium on public pages: text people wrote keeps its own direction and stays isolated.

A caseworker's Latin reply on /status in Arabic at 360 px reads left to right with its full stop
at the end, with JavaScript on and off; an override (U+202E) in the organisation's name cannot
reverse the sentence of the page that carries it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import CaseMessage, MessageKind, Role, Urgency
from intake.services import settings as org_settings
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import make_org_key, make_user
from tests.cases.test_written_text_browser import assert_own_direction, x_of
from tests.public.conftest import full_answers

pytestmark = pytest.mark.browser

REPLY = "We found a lawyer."
OWN = "Thank you."


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_latin_reply_on_the_arabic_status_page_reads_left_to_right(
    app: Flask, live_server: Any, browser: Any, javascript: bool
) -> None:
    org = make_org_key()
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="ar",
    )
    case = submission.case
    submissions.add_follow_up_from_plaintext(case, org_key=org.key, body=OWN, files=[])
    assert case.reply_public_key is not None
    db.session.add(
        CaseMessage(
            case_id=case.id,
            kind=MessageKind.STAFF_REPLY,
            sealed_body=crypto.seal_answers({"body": REPLY}, case.reply_public_key),
        )
    )
    db.session.commit()
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, java_script_enabled=javascript, locale="ar"
    )
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{live_server.url}/status?lang=ar")
        page.fill("#code", submission.receipt_code)
        page.click("button[type=submit]")
        page.wait_for_selector("#shared-status")
        page.wait_for_load_state("load")  # positions and widths of the laid-out page
        if javascript:
            page.wait_for_selector(".message-body.reply-opened >> nth=1")
        assert page.locator(".message-body").all_inner_texts() == [OWN, REPLY]
        reply = ".message-reply .reply-body"
        assert_own_direction(page, reply, "ltr")
        assert x_of(page, reply, ".") > x_of(page, reply, "W")  # the stop ends the line
        assert_own_direction(page, ".message-own .reply-body", "ltr")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        if javascript:  # a message just sent is added by status.js, in its own direction too
            page.fill("#body", "Más fotos.")
            page.click("#follow-up-form button[type=submit]")
            page.wait_for_selector(".message-own >> nth=1")
            assert_own_direction(page, ".message-own >> nth=1 >> .reply-body", "ltr")
    finally:
        context.close()


def test_an_override_in_the_organisation_name_does_not_reverse_the_sentence_around_it(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    profile = {
        "org_name": "Desk \u202eXYZ",
        "org_description": "نساعد المدافعين عن حقوق الإنسان.",
        "org_response_time": "",
        "org_contact": "",
        "org_onion": "",
    }
    org_settings.set_org_profile(profile, make_user(Role.ADMIN))
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/?lang=en")
        sentence = "#org-about-name"
        # The sentence's own full stop stays at its end, after the name (shown "Desk ZYX").
        assert x_of(page, sentence, "Desk") < x_of(page, sentence, "Z")
        assert x_of(page, sentence, "X") < x_of(page, sentence, ".")
        assert_own_direction(page, f"{sentence} bdi", "ltr")
        assert_own_direction(page, "#org-description", "rtl")
    finally:
        context.close()
