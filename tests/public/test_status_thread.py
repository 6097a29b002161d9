"""/status follows the case and shows one thread: the defender's own messages (sealed to the
organisation and to the receipt-code key) and the replies, with JavaScript on and off (issue 13)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import CaseMessage, CaseStatus, MessageKind, Role, Urgency
from intake.services import casework, submissions
from intake.services.triage import Routing
from tests.builders import OrgKeyPair, make_org_key, make_user
from tests.public.conftest import CANARY, csrf_token, full_answers
from tests.sealed import open_message

SHOTS = Path(tempfile.gettempdir())  # screenshots to look at by hand
OWN = f"my own words {CANARY}"
REPLY = "We found a lawyer — 我們找到了律師"


def _referred_case_with_a_reply(org: OrgKeyPair) -> submissions.Submission:
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="en",
    )
    case = submission.case
    caseworker = make_user(role=Role.CASEWORKER)
    casework.change_status(case, CaseStatus.ASSESSING, caseworker)
    casework.change_status(case, CaseStatus.REFERRED, caseworker)
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
    return submission


def test_own_follow_up_is_sealed_to_the_org_and_to_the_receipt_key(roomy_app: Flask) -> None:
    org = make_org_key()
    submission = _referred_case_with_a_reply(org)
    message = db.session.scalars(
        sa.select(CaseMessage).where(CaseMessage.kind == MessageKind.SUBMITTER_FOLLOW_UP)
    ).one()
    assert open_message(message.sealed_body, org.secret) == OWN
    code = crypto.normalise_receipt_code(submission.receipt_code)
    assert code is not None
    _public, secret = crypto.reply_keypair(code)
    assert message.sealed_for_submitter is not None
    assert open_message(message.sealed_for_submitter, secret) == OWN


def test_without_js_status_shows_the_derived_status_and_opens_the_thread(
    roomy_app: Flask,
) -> None:
    org = make_org_key()
    submission = _referred_case_with_a_reply(org)
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    response = client.post("/status", data={"csrf_token": token, "code": submission.receipt_code})
    assert response.status_code == 200
    assert 'data-status="referred"' in response.text
    thread = re.findall(r'<p class="message-body[^"]*"[^>]*>([^<]*)</p>', response.text)
    assert OWN in thread
    assert REPLY in thread or REPLY.replace("—", "&#8212;") in thread
    assert thread.index(OWN) == 0  # oldest first
    assert "used on our server for this page only" in response.text  # said on the page
    # Times read as status.js writes them with JavaScript ("… (UTC+08:00)"), in UTC here:
    # the page said "… UTC" without it, and "(UTC+00:00)" with it on a phone set to UTC.
    times = re.findall(r"<time datetime=\"[^\"]+\"[^>]*>([^<]+)</time>", response.text)
    assert times
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \(UTC\+00:00\)", t) for t in times), times


def test_dates_read_left_to_right_in_arabic(roomy_app: Flask) -> None:
    """In an Arabic sentence 2026-12-06 showed as 06-12-2026 (its digits taken for Arabic
    numbers): each date and time is an element of its own direction."""
    org = make_org_key()
    submission = _referred_case_with_a_reply(org)
    client = roomy_app.test_client()
    token = csrf_token(client, "/status?lang=ar")
    page = client.post(
        "/status?lang=ar", data={"csrf_token": token, "code": submission.receipt_code}
    ).text
    day = submission.case.received_at.strftime("%Y-%m-%d")
    assert f'<bdi dir="ltr">{day}</bdi>' in page  # "أُرسل في …", not escaped as text
    assert re.findall(r'<time datetime="[^"]+" dir="ltr">', page)
    assert "&lt;bdi" not in page


def full_width(code: str) -> str:
    """``code`` in full-width forms, its dashes as full-width hyphens."""
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isalnum() else "\uff0d" for ch in code)


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_status_page_in_chromium_shows_the_status_and_thread(
    app: Flask, live_server: Any, browser: Any, javascript: bool
) -> None:
    org = make_org_key()
    submission = _referred_case_with_a_reply(org)
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        java_script_enabled=javascript,
        timezone_id="Asia/Taipei",
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/status?lang=zh_Hant")
        # As a Chinese input method in full-width mode types it (ＡＢＣＤ－１２３４…): the
        # server finds the case and the browser derives the same reply key from it.
        page.fill("#code", full_width(submission.receipt_code))
        page.click("button[type=submit]")
        page.wait_for_selector("#shared-status")
        assert page.get_attribute("#shared-status", "data-status") == "referred"
        if javascript:
            page.wait_for_selector(".message-body.reply-opened >> nth=1")
        bodies = page.locator(".message-body").all_inner_texts()
        assert bodies == [OWN, REPLY]
        if javascript:
            assert "+08:00" in page.inner_text("#thread time >> nth=0")
        mode = "js" if javascript else "nojs"
        page.screenshot(path=SHOTS / f"defender-status-{mode}-360.png", full_page=True)
    finally:
        context.close()
