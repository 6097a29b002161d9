"""Real Chromium at 360 px: the request form's choices are big enough to tap. A reviewer found
13 px radio buttons beside 19 px lines, and the Arabic "لا" (No) was a 9 px-wide target: each
choice's whole row is now its label, at least 36 px high, its box 20 px (WCAG 2.5.8 asks 24 px
for a target; the row is the target)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.builders import make_org_key
from tests.public.conftest import phone_context

pytestmark = pytest.mark.browser

TARGETS = """() => Array.from(document.querySelectorAll(
  '.choice-list li, .checkbox-list li')).filter(li => li.offsetParent).map(li => {
    const row = li.getBoundingClientRect();
    const label = li.querySelector('label').getBoundingClientRect();
    const box = li.querySelector('input').getBoundingClientRect();
    const style = getComputedStyle(li.querySelector('label'));
    const line = parseFloat(style.lineHeight);
    const firstLine = label.top + parseFloat(style.paddingTop);
    return {text: li.textContent.trim(), width: label.width, height: label.height,
            box: Math.min(box.width, box.height), gap: Math.min(
              Math.abs(label.left - box.right), Math.abs(box.left - label.right)),
            // The label covers its row: no strip of the row that picks nothing, or the
            // row above (the label's own margin left 8 px at the top).
            uncovered: (label.top - row.top) + (row.bottom - label.bottom),
            // The box centred on the label's first line.
            offset: Math.abs((box.top + box.bottom) / 2 - (firstLine + line / 2))};
  })"""


@pytest.mark.parametrize("locale", ["en", "ar"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_every_choice_is_a_row_wide_target(
    app: Flask, live_server: Any, browser: Any, locale: str, javascript: bool
) -> None:
    make_org_key()
    context = phone_context(browser, javascript, locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        if javascript:
            page.evaluate("window.Refuge.steps.show(1)")  # people and consent: radios
        else:
            page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        targets = page.evaluate(TARGETS)
        assert len(targets) >= 6
        for target in targets:
            assert target["height"] >= 36, target
            assert target["width"] >= 200, target  # the rest of the row, not the word
            assert target["box"] >= 20, target
            assert target["gap"] < 2, target  # the label starts at the box: no dead gap
            assert target["uncovered"] < 1, target
            assert target["offset"] < 3, target
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        context.close()
