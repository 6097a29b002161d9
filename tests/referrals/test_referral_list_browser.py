"""/referrals in real Chromium with the demo's 40 cases, in English and 简体中文: at 1280 px a
table across the width whose references, dates and badges each keep to one line; at 360 px one
card per referral, every field there and labelled, nothing off the side of the screen."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake import demo
from intake.extensions import db
from intake.models import ReferralKind, Role, User
from intake.services import directory
from tests.builders import make_entry, make_org_key, make_user, signed_in_context
from tests.public.test_accessibility import assert_accessible
from tests.referrals.conftest import sent_referral

pytestmark = pytest.mark.browser

LOCALES = ["en", "zh_Hans"]
SHOTS = Path(tempfile.gettempdir())  # screenshots to look at by hand
MAIN_WAS = 960  # px: the 60rem column every page had before the list used the screen

# How many lines each element's text takes: one box per line of a Range over its text (an
# inline-block's own getClientRects() is one box however many lines wrap inside it).
LINES_OF = """els => els.map(el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
    .map(r => Math.round(r.top)));
  return [el.textContent.trim(), tops.size];
})"""

# Where each row's cells lie, their text included (a badge's words spilled out of its box), and
# the label a card shows before each value ("State: " gives "State").
CELLS = """rows => rows.map(row => [...row.cells].map(cell => {
  const range = document.createRange();
  range.selectNodeContents(cell);
  const cellBox = cell.getBoundingClientRect(), textBox = range.getBoundingClientRect();
  const box = {left: Math.min(cellBox.left, textBox.left), width: cellBox.width,
               right: Math.max(cellBox.right, textBox.right)};
  const label = getComputedStyle(cell, '::before').content.match(/^"(.*?)[:：]? *"$/);
  return {text: cell.innerText.trim(), left: box.left, right: box.right, width: box.width,
          label: label && label[1]};
}))"""
# Selectors that held before the cards too: the tests judge the layout, not the class names.
ROWS = "main table tbody tr"


@pytest.fixture
def caseworker(app: Flask) -> User:
    """A caseworker, a colleague, and the demo's 40 cases with referrals due around today."""
    make_org_key()
    directory.import_shipped()
    user = make_user(Role.CASEWORKER)
    make_user(Role.ADMIN, email="colleague@example.org")
    demo.create(40, seed=2026)
    return user


def signed_in_page(browser: Any, app: Flask, base: str, user: User, width: int) -> Any:
    """A page for ``user`` at ``width`` px; the CSP is bypassed for axe only."""
    context = signed_in_context(
        browser,
        app,
        base,
        user,
        locale="en-GB",
        viewport={"width": width, "height": 900},
        bypass_csp=True,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.mark.parametrize("locale", LOCALES)
def test_at_1280_px_the_list_uses_the_width_and_references_dates_and_badges_keep_to_one_line(
    app: Flask, live_server: Any, browser: Any, caseworker: User, locale: str
) -> None:
    base = live_server.url
    page = signed_in_page(browser, app, base, caseworker, 1280)
    try:
        for view in ("all", "action"):
            page.goto(f"{base}/referrals/?view={view}&lang={locale}")
            table = page.locator("main table")
            assert table.evaluate("t => getComputedStyle(t).display") == "table"  # not cards
            assert table.locator("thead").is_visible()
            assert table.evaluate("t => t.getBoundingClientRect().width") > MAIN_WAS
            rows = page.locator(ROWS)
            assert rows.count() >= 10, view
            refs = rows.locator("a[href*='/referrals/']").evaluate_all(LINES_OF)
            dates = rows.locator("time").evaluate_all(LINES_OF)
            badges = rows.locator(".badge").evaluate_all(LINES_OF)
            assert len(refs) == rows.count(), view
            assert dates, view
            assert badges, view  # the demo has overdue referrals
            for what, lines in refs + dates + badges:
                assert lines == 1, (view, what, lines)
            # A badge is a pill, not a circle: far wider than it is tall.
            shapes = rows.locator(".badge").evaluate_all(
                "els => els.map(el => [el.offsetWidth, el.offsetHeight])"
            )
            assert all(width > 2 * height for width, height in shapes), shapes
    finally:
        page.context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_at_360_px_each_referral_is_a_labelled_card_within_the_screen(
    app: Flask, live_server: Any, browser: Any, caseworker: User, locale: str
) -> None:
    base = live_server.url
    page = signed_in_page(browser, app, base, caseworker, 360)
    try:
        for view in ("all", "action"):
            page.goto(f"{base}/referrals/?view={view}&lang={locale}")
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= 360, (view, widths)
            # The Filter button stands clear of the first card (it touched it).
            gap = page.evaluate(
                """() => document.querySelector('main table').getBoundingClientRect().top
                         - document.querySelector('form.filters').getBoundingClientRect().bottom"""
            )
            assert gap >= 12, (view, gap)
            headers = page.locator("main table thead th").all_text_contents()
            rows = page.locator(ROWS).evaluate_all(CELLS)
            assert len(rows) >= 10, view
            for cells in rows:
                assert len(cells) == len(headers) == 6, cells  # case, due, to, kind, state, owner
                for cell in cells:
                    assert cell["text"], cell
                    assert cell["width"] > 0, cell
                    assert cell["left"] >= 0, (view, cell)
                    assert cell["right"] <= 360, (view, cell)
                # The reference heads the card; every other field, state and owner among them,
                # says what it is in the words of the table's column headers.
                assert cells[0]["label"] is None, cells
                assert [cell["label"] for cell in cells[1:]] == headers[1:], cells
            assert_accessible(page, f"/referrals/?view={view} at 360 px ({locale})")
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [1280, 360])
def test_each_row_opens_its_referral_and_its_case_has_its_own_link(
    app: Flask, live_server: Any, browser: Any, caseworker: User, width: int
) -> None:
    """Reviewer: the column said "Case" and showed the case's reference, which opened the
    referral; the case itself had no link. The row now names the referral (as its page does)
    and links the case beside it, in the table, its cards and the timeline."""
    base = live_server.url
    page = signed_in_page(browser, app, base, caseworker, width)
    try:
        page.goto(f"{base}/referrals/?view=all&lang=zh_Hans")
        assert page.locator("main table thead th").first.inner_text() == "转介"
        row = page.locator(ROWS).first
        referral = row.locator("[data-referral-link]")
        case = row.locator("[data-case-link]")
        expect(referral).to_be_visible()
        expect(case).to_be_visible()
        referral_id = (referral.get_attribute("href") or "").rsplit("/", 1)[-1]
        assert referral.inner_text() == f"转介 {referral_id}"
        ref = case.inner_text()
        assert case.get_attribute("href") == f"/cases/{ref}"
        case.click()
        page.wait_for_url(f"**/cases/{ref}")
        page.go_back()
        page.locator(ROWS).first.locator("[data-referral-link]").click()
        page.wait_for_url(f"**/referrals/{referral_id}")
        expect(page.locator("h1")).to_contain_text(f"转介 {referral_id}")

        page.goto(f"{base}/referrals/?view=timeline&lang=en")
        item = page.locator("main ol.timeline ul > li").first
        assert (item.locator("[data-case-link]").get_attribute("href") or "").startswith("/cases/")
    finally:
        page.context.close()


LONG_EMAIL = "casework.coordinator.urgent-appeals@defenders-network.example.org"
GONE_EMAIL = "former.caseworker.regional-desk@defenders-network.example.org"

# For each owner line of the timeline: the line its first character is on, the line the address
# starts on, and how far right its text reaches (its Range's boxes, one a line).
OWNER_LINES = """(els, email) => els.map(el => {
  const text = el.textContent;
  const wanted = [text.search(/\\S/), text.indexOf(email)];
  const tops = [];
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let seen = 0, node;
  while ((node = walker.nextNode())) {
    wanted.forEach((index, which) => {
      if (index >= seen && index < seen + node.length) {
        const range = document.createRange();
        range.setStart(node, index - seen);
        range.setEnd(node, index - seen + 1);
        tops[which] = Math.round(range.getClientRects()[0].top);
      }
    });
    seen += node.length;
  }
  const whole = document.createRange();
  whole.selectNodeContents(el);
  const right = Math.max(...[...whole.getClientRects()].map(r => r.right));
  return {text: text.trim().replace(/\\s+/g, " "), label: tops[0] ?? null,
          address: tops[1] ?? null, right};
})"""


@pytest.fixture
def long_owners(app: Flask) -> User:
    """A caseworker whose address is long, owning referrals to entries whose names grow by a
    word each (so the owner falls at every place of a row's end), and one referral whose owner,
    as long an address, was deactivated."""
    org = make_org_key()
    owner = make_user(Role.CASEWORKER, email=LONG_EMAIL)
    for words in range(24):  # 25 referrals: one page
        entry_id = f"entry-{words}"
        make_entry(entry_id, name=" ".join(["Network", *["Defenders"] * words]))
        sent_referral(ReferralKind.NGO_REFERRAL, owner=owner, org=org, entry_id=entry_id)
    gone = make_user(Role.CASEWORKER, email=GONE_EMAIL)
    sent_referral(ReferralKind.NGO_REFERRAL, owner=gone, org=org, entry_id="entry-7")
    gone.is_active_account = False
    db.session.commit()
    return owner


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_the_timeline_keeps_owner_and_address_together_within_the_screen(
    app: Flask, live_server: Any, browser: Any, long_owners: User, width: int, locale: str
) -> None:
    """Reviewer: at the end of a long row, "Owner:" stayed on one line and its address went to
    the next. The label and the address start on one line; an address longer than the line
    breaks inside itself, and nothing goes off the side of the screen."""
    base = live_server.url
    page = signed_in_page(browser, app, base, long_owners, width)
    try:
        page.goto(f"{base}/referrals/?view=timeline&lang={locale}")
        owners = page.locator("main ol.timeline [data-owner]")
        expect(owners).to_have_count(25)
        gone = "main ol.timeline [data-owner]:has([data-owner-deactivated])"
        lines = owners.filter(has_text=LONG_EMAIL).evaluate_all(OWNER_LINES, LONG_EMAIL)
        lines += page.locator(gone).evaluate_all(OWNER_LINES, GONE_EMAIL)
        assert len(lines) == 25
        assert all(line["address"] is not None for line in lines), lines
        split = [line["text"] for line in lines if line["label"] != line["address"]]
        assert split == [], split
        assert all(line["right"] <= width for line in lines), lines
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # Weeks are headings under the title, not a numbered list of larger ones.
        title, week, marker = page.evaluate(
            "[getComputedStyle(document.querySelector('main h1')).fontSize,"
            " getComputedStyle(document.querySelector('main .timeline-week')).fontSize,"
            " getComputedStyle(document.querySelector('main ol.timeline')).listStyleType]"
        )
        assert float(week.removesuffix("px")) < float(title.removesuffix("px"))
        assert marker == "none"
        page.screenshot(path=SHOTS / f"referral-timeline-long-owner-{locale}-{width}.png")
    finally:
        page.context.close()
