"""The staff header on a 360 px phone: it took five lines of the screen in English, "Sign out"
alone on one of them (a review). Closer lines keep it to four, each link a 24 px target."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake.models import Role
from tests.builders import make_org_key, make_staff_with_keys, signed_in_context

pytestmark = pytest.mark.browser

HEADER = """() => {
  const header = document.querySelector('.site-header');
  const all = [...header.querySelectorAll('a, button, summary')];
  const targets = all.filter((t) => t.checkVisibility());
  // A new line where a target starts more than 12 px below the one before (a pill and a link
  // on one line differ by a few).
  const tops = targets.map((t) => t.getBoundingClientRect().top).sort((a, b) => a - b);
  const lines = tops.filter((top, i) => i === 0 || top - tops[i - 1] > 12).length;
  return {
    height: header.getBoundingClientRect().height,
    lines: lines,
    tops: targets.map((t) => [t.textContent.trim(), Math.round(t.getBoundingClientRect().top)]),
    smallest: Math.min(...targets.map((t) => t.getBoundingClientRect().height)),
    overflow: document.documentElement.scrollWidth > window.innerWidth,
  };
}"""


@pytest.mark.parametrize("locale", ["en", "zh_Hant", "zh_Hans"])
def test_the_staff_header_takes_four_lines_of_a_phone(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    admin, _ = make_staff_with_keys(Role.ADMIN, make_org_key())
    context = signed_in_context(
        browser, app, live_server.url, admin, viewport={"width": 360, "height": 740}
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/cases/?lang={locale}")
        header = page.evaluate(HEADER)
        assert header["lines"] <= 4, " ".join(f"{t}:{y}" for t, y in header["tops"])
        assert header["height"] < 140, header
        assert header["smallest"] >= 24, header
        assert not header["overflow"], header
    finally:
        context.close()
