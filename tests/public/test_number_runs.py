"""A phone number in a right-to-left message: the bidi algorithm orders "+20 111 222 3333"
as "3333 222 111 20+" inside Arabic text (a reviewer's /status, 2026-12-04). What someone
wrote is shown with each number run isolated left to right, by the server without
JavaScript (the ``number_runs`` filter) and by sealed.js with it; as text, never markup."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from intake import crypto
from intake.extensions import db
from intake.models import CaseMessage, MessageKind, Urgency
from intake.services import submissions
from intake.services.triage import Routing
from intake.web import NUMBER_RUN, number_runs
from tests.builders import make_org_key
from tests.public.conftest import full_answers, phone_context

REPLY = "اتصل بنا على +20 111 222 3333 قبل 2026-12-20 <b>غدا</b>"


def test_number_runs_are_isolated_and_everything_is_escaped() -> None:
    shown = str(number_runs(REPLY))
    assert '<bdi dir="ltr">+20 111 222 3333</bdi>' in shown
    assert '<bdi dir="ltr">2026-12-20</bdi>' in shown
    assert "&lt;b&gt;" in shown
    assert "<b>" not in shown
    assert str(number_runs("رقم 12")) == "رقم 12"  # too short to be a number run


def test_the_browser_isolates_the_same_runs_as_the_server() -> None:
    """sealed.js's showText and the number_runs filter must agree: one pattern, written twice
    only because one side is JavaScript."""
    script = (Path(__file__).resolve().parents[2] / "intake/static/js/sealed.js").read_text()
    found = re.search(r"const NUMBER_RUN = /(.*)/g;", script)
    assert found is not None
    assert found.group(1) == NUMBER_RUN.pattern


@given(st.text(max_size=200))
def test_the_text_shown_is_the_text_written(text: str) -> None:
    shown = str(number_runs(text))
    without_runs = re.sub(r'<bdi dir="ltr">(.*?)</bdi>', r"\1", shown)
    assert "<" not in without_runs
    assert html.unescape(without_runs) == text


def _case_with_a_reply() -> str:
    org = make_org_key()
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS, threats=("detention",), country="EG"),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="ar",
    )
    db.session.add(
        CaseMessage(
            case_id=submission.case.id,
            kind=MessageKind.STAFF_REPLY,
            sealed_body=crypto.seal_answers(
                {"body": REPLY}, submission.case.reply_public_key or ""
            ),
        )
    )
    db.session.commit()
    return submission.receipt_code


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False])
def test_on_the_arabic_status_page_a_reply_s_phone_number_reads_as_written(
    app: Flask, live_server: Any, browser: Any, javascript: bool
) -> None:
    code = _case_with_a_reply()
    context = phone_context(browser, javascript, "ar")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/status?lang=ar")
        page.fill("#code", code)
        page.click("main button[type=submit]")
        page.wait_for_load_state("load")
        reply = page.locator("[data-sealed-reply]").first
        number = reply.locator("bdi[dir=ltr]", has_text="+20 111 222 3333")
        number.wait_for()
        assert reply.locator("b").count() == 0
        # Drawn left to right: "+20" left of "3333" on the screen.
        order = number.evaluate(
            """el => {
              const text = el.firstChild, range = document.createRange();
              range.setStart(text, 0); range.setEnd(text, 3);
              const first = range.getBoundingClientRect().left;
              range.setStart(text, text.length - 4); range.setEnd(text, text.length);
              return [first, range.getBoundingClientRect().left];
            }"""
        )
        assert order[0] < order[1], order
    finally:
        context.close()
