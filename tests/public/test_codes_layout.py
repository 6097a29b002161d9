"""Codes a defender copies or compares read whole on a 360 px phone: the receipt code on one
line, the key's fingerprint broken only between its groups and left to right, on an Arabic
page too."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.builders import make_org_key
from tests.public.conftest import full_answers

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}

# For each group of the element's text (split on " " or "-"): the boxes its characters occupy
# (more than one: the group is broken over two lines) and where it starts.
GROUP_BOXES = """(element) => {
  const text = element.firstChild;
  const groups = [];
  let start = 0;
  for (const part of text.textContent.split(/[ -]/)) {
    const range = document.createRange();
    range.setStart(text, start);
    range.setEnd(text, start + part.length);
    const boxes = Array.from(range.getClientRects()).filter((box) => box.width > 0);
    groups.push({ boxes: boxes.length, left: boxes[0].left, top: boxes[0].top });
    start += part.length + 1;
  }
  return groups;
}"""


def _read_in_order(groups: list[dict[str, float]]) -> None:
    assert all(group["boxes"] == 1 for group in groups), groups  # no group broken
    for before, after in zip(groups, groups[1:], strict=False):
        if abs(before["top"] - after["top"]) < 2:  # same line: left to right
            assert before["left"] < after["left"], groups
        else:
            assert after["top"] > before["top"], groups


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_the_receipt_code_is_one_line_on_a_phone(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        page.fill("#what_happened", full_answers()["what_happened"])
        page.check("input[name=urgency][value=days]")
        page.check("input[name=consent][value=yes]")
        page.check("input[name=referral_consent][value=yes]")
        page.click("#intake-form button[type=submit]:not(.link-button)")
        code = page.locator("#receipt-code")
        code.wait_for()
        page.wait_for_load_state("load")  # boxes and widths of the laid-out page, not a part
        groups = code.evaluate(GROUP_BOXES)
        assert len(groups) == 5
        _read_in_order(groups)
        assert len({round(group["top"]) for group in groups}) == 1  # one line
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_the_fingerprint_breaks_between_groups_and_reads_left_to_right(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    make_org_key()
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        # On its own on the landing page, and after a label in the form's last part.
        for path in ("/", "/request"):
            page.goto(f"{live_server.url}{path}?lang={locale}")
            groups = page.locator(".fingerprint").first.evaluate(GROUP_BOXES)
            assert len(groups) == 16
            _read_in_order(groups)
    finally:
        context.close()
