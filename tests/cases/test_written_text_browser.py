"""Real Chromium: text people wrote keeps its own direction on staff pages and stays isolated.

An Arabic request read in the English queue and case page ends with its full stop on the left
(where Arabic ends), not the right; a bidi override (U+202E) in a decrypted file name cannot
reverse what the page writes after it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import CaseMessage, MessageKind, Role
from tests.builders import make_attachment, make_case, make_org_key, make_user
from tests.cases.test_browser import wait_decrypted
from tests.cases.test_queue_browser import open_context

pytestmark = pytest.mark.browser

ARABIC = "اعتُقلت أمس."  # "I was arrested yesterday."
FOLLOW_UP = "أرسلت الصور."  # "I sent the photos."
RLO = "\u202e"

# The x of every occurrence of a string in an element's text, in the order of the text.
POSITIONS = """([selector, needle]) => {
  const root = document.querySelector(selector);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = node.data.indexOf(needle); i >= 0; i = node.data.indexOf(needle, i + 1)) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + needle.length);
      found.push(range.getBoundingClientRect().left);
    }
  }
  return found;
}"""

# How an element is laid out for direction: its dir attribute, resolved direction and isolation.
DIRECTION = """(node) => ({
  dir: node.getAttribute("dir"),
  direction: node.matches(":dir(rtl)") ? "rtl" : "ltr",
  bidi: getComputedStyle(node).unicodeBidi,
})"""


def x_of(page: Any, selector: str, needle: str) -> float:
    found = page.evaluate(POSITIONS, [selector, needle])
    assert len(found) == 1, (selector, needle, found)
    return float(found[0])


def assert_own_direction(page: Any, selector: str, direction: str) -> None:
    shown = page.locator(selector).evaluate(DIRECTION)
    assert shown["dir"] == "auto", (selector, shown)
    assert shown["direction"] == direction, (selector, shown)
    assert shown["bidi"] in ("isolate", "plaintext"), (selector, shown)


def test_an_arabic_request_in_the_english_queue_and_case_page_reads_right_to_left(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    case = make_case(
        org, {"victim_name": f"Ana {RLO}evil", "what_happened": ARABIC}, ref="RF-ARABIC01"
    )
    db.session.add(
        CaseMessage(
            case_id=case.id,
            kind=MessageKind.SUBMITTER_FOLLOW_UP,
            sealed_body=crypto.seal_answers({"body": FOLLOW_UP}, org.public),
            org_key_id=org.key.id,
        )
    )
    db.session.commit()
    user = make_user(Role.CASEWORKER)
    context = open_context(browser, app, live_server.url, user, org)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{live_server.url}/cases/?view=all&lang=en")
        page.wait_for_selector('tr[data-ref="RF-ARABIC01"][data-person-state=open]')
        row = 'tr[data-ref="RF-ARABIC01"]'
        summary = f"{row} [data-person-summary]"
        assert page.inner_text(summary) == ARABIC
        assert_own_direction(page, summary, "rtl")
        assert x_of(page, summary, ".") < x_of(page, summary, "ا")  # the stop ends the line
        assert_own_direction(page, f"{row} [data-person-name]", "ltr")

        page.goto(f"{live_server.url}/cases/{case.ref}?lang=en")
        wait_decrypted(page)
        answer = '[data-answer-key="what_happened"] .answer-text'
        assert page.inner_text(answer) == ARABIC
        assert_own_direction(page, answer, "rtl")
        assert x_of(page, answer, ".") < x_of(page, answer, "ا")
        assert_own_direction(page, '[data-answer-key="victim_name"] .answer-text', "ltr")
        follow_up = '.message[data-kind="follow_up"] .message-text'
        page.wait_for_selector(follow_up)
        assert page.inner_text(follow_up) == FOLLOW_UP
        assert_own_direction(page, follow_up, "rtl")
        assert x_of(page, follow_up, ".") < x_of(page, follow_up, "أ")
    finally:
        context.close()


def test_an_override_in_a_decrypted_file_name_does_not_reverse_the_page_after_it(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    case = make_case(org, {"what_happened": "Photos attached"})
    make_attachment(case, org, name=f"photo{RLO}gpj.exe")
    user = make_user(Role.CASEWORKER)
    context = open_context(browser, app, live_server.url, user, org)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{live_server.url}/cases/{case.ref}?lang=en")
        wait_decrypted(page)
        page.wait_for_selector("#attachments .attachment-download")
        item = "#attachments li"
        assert_own_direction(page, f"{item} .attachment-name", "ltr")
        # "(… KiB)" after the name still reads left to right, after the name.
        name_right = page.locator(f"{item} .attachment-name").evaluate(
            "node => node.getBoundingClientRect().right"
        )
        assert x_of(page, item, "(") >= name_right - 1
        assert x_of(page, item, "(") < x_of(page, item, "KiB")
        # The override itself is gone from the name shown and the name downloaded: with it,
        # "photo‮gpj.exe" read (and saved) as "photoexe.jpg".
        assert page.inner_text(f"{item} .attachment-name") == "photo_gpj.exe"
        download = page.locator(f"{item} .attachment-download").get_attribute("download")
        assert download == "photo_gpj.exe"
    finally:
        context.close()
