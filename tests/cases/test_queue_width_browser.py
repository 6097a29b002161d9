"""The queue at the widths caseworkers use, in real Chromium: nothing wider than the window,
and every cell of every case on the screen.

Its table was 1,310 px wide at 1024 and at 1280 px in English (the summary held at 16rem, an
address and a date on one line each, the next action at 12rem): the page scrolled sideways.
Now the table from 1248 px up (a 1280 px window with its scroll bar), its columns giving way;
below, cards, side by side where two or three fit (squeezed into 1024 px, the table's next
actions took six lines a row)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake import crypto, demo
from intake.extensions import db
from intake.models import Role
from intake.services import directory
from tests.builders import give_key, make_org_key, make_user, signed_in_context
from tests.cases.test_browser import STUB_KEYRING

pytestmark = pytest.mark.browser

ADDRESSES = (
    "maria.fernanda.rodriguez@defenders-network.org",
    "li.wei@hrd-taiwan.org.tw",
    "admin@example.org",
)

# Per row: each cell's class, whether it is drawn (a box with text), and whether it lies
# within the window; the row's own edges; how the table is laid out.
ROWS = """() => Array.from(document.querySelectorAll("tr.case-row")).map((row) => {
  const box = row.getBoundingClientRect();
  return {
    ref: row.dataset.ref,
    display: getComputedStyle(row).display,
    inside: box.left >= 0 && box.right <= document.documentElement.clientWidth + 0.5,
    cells: Array.from(row.children, (cell) => {
      const r = cell.getBoundingClientRect();
      return {
        cls: cell.className.split(" ")[0],
        text: cell.innerText.trim(),
        drawn: r.width > 0 && r.height > 0 && getComputedStyle(cell).visibility !== "hidden",
        inside: r.left >= -0.5 && r.right <= document.documentElement.clientWidth + 0.5,
      };
    }),
  };
})"""

CELLS = [
    "cell-ref",
    "cell-person",
    "cell-urgency",
    "cell-status",
    "cell-action",
    "cell-due",
    "cell-where",
    "cell-assignee",
]


@pytest.fixture
def demo_queue(app: Flask) -> Any:
    """Realistic cases (flask demo's): long organisation names in the next action, referral
    clocks, several languages, colleagues with long addresses holding them."""
    org = make_org_key()
    viewer = None
    for address in ADDRESSES:
        holder = give_key(make_user(Role.CASEWORKER, email=address), org)
        viewer = viewer or holder
    directory.import_shipped()
    db.session.commit()
    demo.create(30)
    return org, viewer


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
# 1264: a 1280 px window whose scroll bar takes 16 px (headless Chromium draws none).
@pytest.mark.parametrize("width", [390, 1024, 1264, 1280])
def test_the_queue_fits_the_window_with_every_cell_on_the_screen(
    app: Flask, live_server: Any, browser: Any, demo_queue: Any, width: int, locale: str
) -> None:
    org, viewer = demo_queue
    context = signed_in_context(
        browser, app, live_server.url, viewer, viewport={"width": width, "height": 900}
    )
    context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{live_server.url}/cases/?view=all&lang={locale}")
        page.wait_for_selector("tr.case-row[data-person-state=open]")
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], widths
        rows = page.evaluate(ROWS)
        assert len(rows) == 25
        # A table from 1248 px up, cards below.
        assert {row["display"] for row in rows} == {"table-row" if width >= 1248 else "block"}
        for row in rows:
            assert row["inside"], row
            assert [cell["cls"] for cell in row["cells"]] == CELLS
            for cell in row["cells"]:
                assert cell["drawn"], (row["ref"], cell)
                assert cell["inside"], (row["ref"], cell)
                if cell["cls"] != "cell-assignee":  # nobody holds some
                    assert cell["text"], (row["ref"], cell)
        # The summary is cut to its column only in the table, and says itself whole on hover.
        summary = page.locator("tr.case-row [data-person-summary]").first
        assert summary.get_attribute("title") == summary.text_content()
        assert summary.text_content()
    finally:
        context.close()


def test_cards_stand_side_by_side_where_two_fit(
    app: Flask, live_server: Any, browser: Any, demo_queue: Any
) -> None:
    """At 1024 px a card a row was a screen of short lines: two or three a row, each the width
    a phone's card has."""
    org, viewer = demo_queue
    tops = {}
    for width in (390, 1024, 1200):
        context = signed_in_context(
            browser, app, live_server.url, viewer, viewport={"width": width, "height": 900}
        )
        page = context.new_page()
        try:
            page.goto(f"{live_server.url}/cases/?view=all&lang=en")
            lefts = page.evaluate(
                """Array.from(document.querySelectorAll("tr.case-row"),
                     (row) => Math.round(row.getBoundingClientRect().left))"""
            )
            tops[width] = len(set(lefts))
        finally:
            context.close()
    assert tops == {390: 1, 1024: 2, 1200: 3}
