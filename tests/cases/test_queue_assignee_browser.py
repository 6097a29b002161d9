"""The queue's "Assigned to" in real Chromium, by computed layout: an address breaks only
between its pieces (after its "@", before a dot), and only when it must, at 1280 px (the table)
and 390 px (the cards); on a card, the Chinese label's full-width colon leaves no gap before
the address. The case page draws its holder's address alike, and its "Assign to" list fits a
phone.

A review found "maria.fernanda.rodri" / "guez@defenders-" / "network.org" in an 11rem column at
1280 px, "admin" / "@example.org" on a phone's card (the column's cap held there too), and
"負責人：  admin": the colon's own half em of blank before the address. (Chinese cards also
labelled the cells English cards leave bare: a lone "當事人：" above the name.) Kept whole up to
its "@", the long address then set the table's width (1,310 px at 1280); the case page broke it
at its hyphen ("defenders-" / "network.org") and its list was 441 px wide at 390.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake.cases.wording import address_parts
from intake.models import Role
from tests.builders import give_key, make_case, make_org_key, make_user, signed_in_context

pytestmark = pytest.mark.browser

LONG = "maria.fernanda.rodriguez@defenders-network.org"
SHORT = "admin@example.org"
BREAK = "li.wei@hrd-taiwan.org.tw"  # "-" is a place a browser may break: not in an address

# Per assignee cell: the address, and the lines each of its parts is drawn on.
LAYOUT = """() => Array.from(document.querySelectorAll("td.cell-assignee")).map((td) => {
  const parts = Array.from(td.querySelectorAll(".address > span"), (part) =>
    Array.from(new Set(Array.from(part.getClientRects(), (r) => Math.round(r.top)))));
  const box = td.getBoundingClientRect();
  const row = td.closest("tr").getBoundingClientRect();
  return {
    address: td.querySelector(".address").textContent,
    parts: parts,
    texts: Array.from(td.querySelectorAll(".address > span"), (part) => part.textContent),
    width: box.width,
    inside: box.left >= row.left - 0.5 && box.right <= row.right + 0.5,
  };
})"""


def queue_page(browser: Any, app: Flask, base: str, width: int, locale: str) -> tuple[Any, Any]:
    org = make_org_key()
    viewer = None
    for email in (LONG, SHORT, BREAK):
        holder = give_key(make_user(Role.CASEWORKER, email=email), org)
        make_case(org, assignee_id=holder.id)
        viewer = viewer or holder
    assert viewer is not None
    context = signed_in_context(
        browser, app, base, viewer, viewport={"width": width, "height": 900}, locale="en-GB"
    )
    page = context.new_page()
    page.goto(f"{base}/cases/?view=all&lang={locale}")
    return context, page


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
@pytest.mark.parametrize("width", [1280, 390])
def test_an_address_breaks_only_between_its_pieces_and_only_when_it_must(
    app: Flask, live_server: Any, browser: Any, width: int, locale: str
) -> None:
    context, page = queue_page(browser, app, live_server.url, width, locale)
    try:
        cells = {cell["address"]: cell for cell in page.evaluate(LAYOUT)}
        assert set(cells) == {LONG, SHORT, BREAK}
        for address, cell in cells.items():
            assert "".join(cell["texts"]) == address
            assert cell["texts"] == list(address_parts(address))
            # Each piece on one line: never broken inside ("defenders-" / "network").
            assert all(len(lines) == 1 for lines in cell["parts"]), (address, cell)
            tops = [lines[0] for lines in cell["parts"]]
            assert tops == sorted(tops), (address, cell)
            assert cell["inside"], (address, cell)  # within its row or card
        # Those that fit are whole; the long one breaks, between pieces, only where it must.
        assert len({lines[0] for lines in cells[SHORT]["parts"]}) == 1
        assert len({lines[0] for lines in cells[BREAK]["parts"]}) == 1
        if width == 390:
            # A card has the phone's width: the column's cap of the table does not hold there.
            assert cells[SHORT]["width"] > 300
            # And the long address takes two lines on it, after its "@".
            long_tops = [lines[0] for lines in cells[LONG]["parts"]]
            assert len(set(long_tops)) == 2
            assert long_tops.index(max(long_tops)) == len(LONG.split("@")[0].split("."))
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # Copied or read out, the address is whole: the break points add nothing to it.
        assert page.locator("td.cell-assignee .address").first.inner_text().strip() in {
            LONG,
            SHORT,
            BREAK,
        }
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_on_a_phone_the_case_page_keeps_its_holders_address_whole_and_its_list_inside(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    org = make_org_key()
    holder = give_key(make_user(Role.CASEWORKER, email=LONG), org)
    give_key(make_user(Role.CASEWORKER, email=BREAK), org)
    case = make_case(org, assignee_id=holder.id)
    context = signed_in_context(
        browser, app, live_server.url, holder, viewport={"width": 390, "height": 900}
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/cases/{case.ref}?lang={locale}")
        assert page.locator("[data-assignee]").inner_text() == LONG
        pieces = page.evaluate(
            """Array.from(document.querySelectorAll("[data-assignee] .address > span"),
                 (part) => new Set(Array.from(part.getClientRects(),
                                              (r) => Math.round(r.top))).size)"""
        )
        assert pieces == [1] * len(address_parts(LONG))
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], widths
        select = page.locator("select#assignee").bounding_box()
        assert select is not None
        assert select["x"] + select["width"] <= 390
    finally:
        context.close()


# Per card cell of the first row: its label as drawn, where its text starts (from the cell's
# left edge) and the label's font size.
CARD_LABELS = """() => Array.from(document.querySelectorAll("tr.case-row td[data-label]"))
  .filter((td) => getComputedStyle(td, "::before").content !== "none")
  .map((td) => {
    const range = document.createRange();
    range.selectNodeContents(td);
    const first = Array.from(range.getClientRects()).find((r) => r.width > 0);
    const before = getComputedStyle(td, "::before");
    return {
      label: before.content,
      start: first.left - td.getBoundingClientRect().left,
      size: parseFloat(before.fontSize),
      text: td.innerText,
      cls: td.className,
    };
  })"""


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_on_a_card_the_chinese_colon_leaves_no_gap_before_the_address(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    context, page = queue_page(browser, app, live_server.url, 390, locale)
    try:
        cells = page.evaluate(CARD_LABELS)
        assignee = [cell for cell in cells if "cell-assignee" in cell["cls"]]
        assert len(assignee) == 3
        label = "負責人" if locale == "zh_Hant" else "负责人"
        for cell in cells:
            words = cell["label"].strip('"')
            assert words.endswith("："), cell  # full-width, no space after it
            # The card's text: the address (or the date …) right after the label, no space.
            assert cell["text"] == cell["text"].lstrip(), cell
            # Drawn: every character of the label a full em, the colon half of one (set
            # half-width), then the text. At a full em the colon's blank half read as a space.
            assert cell["start"] <= (len(words) - 0.5) * cell["size"] + 1, cell
        # The cells an English card shows without a label show none in Chinese either.
        unlabelled = ("cell-person", "cell-urgency", "cell-status")
        assert not [cell for cell in cells if any(name in cell["cls"] for name in unlabelled)]
        texts = sorted(cell["text"].split("\n")[0] for cell in assignee)
        assert all(text.startswith(("admin@", "li.wei@", "maria.")) for text in texts), texts
        assert all(cell["label"] == f'"{label}："' for cell in assignee)
    finally:
        context.close()
