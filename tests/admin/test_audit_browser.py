"""/admin/audit in real Chromium: at 1280 px a table at the page's width where no number, code
or reference breaks mid-word; at 390 px one card per event, nothing off the screen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from intake.extensions import db
from intake.models import Case, Role, User
from intake.services import audit
from tests.builders import make_case, make_org_key, make_staff_with_keys, signed_in_context
from tests.public.test_accessibility import assert_accessible, no_horizontal_scroll

pytestmark = pytest.mark.browser

# How many lines each matching element's text takes (a word broken in two takes two).
LINES = """els => els.map(el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
                        .map(r => Math.round(r.top)));
  return {text: el.innerText.trim(), lines: tops.size};
})"""


@pytest.fixture
def logged(app: Flask) -> tuple[User, Case]:
    """An admin and a case with the events a caseworker's morning leaves (over 200, as in the
    review's screenshot, so the ids have three digits)."""
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
    cw, _ = make_staff_with_keys(Role.CASEWORKER, org, email="caseworker.long-name@example.org")
    case = make_case(org, {"what_happened": "CANARY-PLAINTEXT"})
    for n in range(50):
        audit.record("case.list", "case", "*", actor=cw, detail={"view": "all", "page": 1})
        audit.record("case.view", "case", case.id, actor=cw, detail={"part": "sealed"})
        audit.record("case.search_index", "case", case.id, actor=cw, detail={"tokens": n})
        audit.record(
            "consent.recorded",
            "case",
            case.id,
            actor_label="submitter",
            detail={"record": n, "purpose": "un_submission", "entry": None, "by": "submitter"},
        )
    audit.record("case.purged", "case", 99999, actor_label="system")
    audit.record("case.status_viewed", "case", case.id, actor_label="submitter")
    db.session.commit()
    return admin, case


@pytest.fixture
def page_at(browser: Any, app: Flask, live_server: Any, logged: tuple[User, Case]) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_page(width: int, lang: str) -> Any:
        context = signed_in_context(
            browser,
            app,
            live_server.url,
            logged[0],
            viewport={"width": width, "height": 900},
            bypass_csp=True,  # for axe only
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/audit?lang={lang}")
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh_Hans"])
def test_at_1280_px_the_log_uses_the_width_and_breaks_no_word(
    page_at: Any, logged: tuple[User, Case], lang: str
) -> None:
    page = page_at(1280, lang)
    table = page.locator("main table")
    assert table.evaluate("t => getComputedStyle(t).display") == "table"
    assert table.evaluate("t => t.getBoundingClientRect().width") > 1100
    assert no_horizontal_scroll(page)
    selectors = "main tbody .cell-id, main tbody .audit-code, main tbody .case-ref, main tbody time"
    for cell in page.locator(selectors).evaluate_all(LINES):
        assert cell["lines"] == 1, cell
    _admin, case = logged
    assert page.locator(f"a.case-ref[href$='/cases/{case.ref}']").count() > 0
    assert "CANARY" not in page.content()
    assert_accessible(page, f"/admin/audit at 1280 px ({lang})")


@pytest.mark.parametrize("lang", ["en", "zh_Hans"])
def test_at_390_px_each_event_is_a_card_on_the_screen(page_at: Any, lang: str) -> None:
    page = page_at(390, lang)
    assert no_horizontal_scroll(page)
    assert page.locator("main table").evaluate("t => getComputedStyle(t).display") == "block"
    boxes = page.locator("main tbody td, main tbody th").evaluate_all(
        "cells => cells.map(c => { const b = c.getBoundingClientRect();"
        " return {text: c.innerText, left: b.left, right: b.right}; })"
    )
    for box in boxes:
        assert box["left"] >= 0, box
        assert box["right"] <= 390, box
    for cell in page.locator("main tbody .audit-code, main tbody .case-ref").evaluate_all(LINES):
        assert cell["lines"] == 1, cell
    assert_accessible(page, f"/admin/audit at 390 px ({lang})")
