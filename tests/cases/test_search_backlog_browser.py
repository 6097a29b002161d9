"""Real Chromium: a search finds a case nobody has opened. Once the queue is open with the keys
unlocked, the browser indexes the cases not yet searchable in the background (search-backlog.js)
and says how far it is; the words never leave the browser. Leaving the page stops it; the next
visit carries on."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import CaseSearchIndex, Role
from tests.builders import give_key, make_case, make_org_key, make_user, signed_in_context
from tests.cases.test_browser import STUB_KEYRING, db_dump
from tests.cases.test_queue_browser import record, search, shown_refs, wait_for

pytestmark = pytest.mark.browser

PLACE = "Quillfeather"  # in every case's story: must never reach the server


def indexed_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(CaseSearchIndex.case_id))) or 0


def wait_with(page: Any, condition: Any, timeout: float = 60.0) -> None:
    """wait_for, letting Playwright dispatch the page's events meanwhile (route handlers run
    only while the test is inside a Playwright call)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        db.session.expire_all()
        db.session.rollback()
        if condition():
            return
        page.wait_for_timeout(200)
    raise AssertionError("timed out")


def make_cases(org: Any, count: int) -> dict[int, str]:
    """``count`` sealed cases, "Sample person N", the oldest first; their refs by N."""
    start = utcnow() - timedelta(days=count)
    refs = {}
    for n in range(1, count + 1):
        case = make_case(
            org,
            {"victim_name": f"Sample person {n}", "what_happened": f"Seen near {PLACE} mill"},
            ref=f"RF-BG{n:03d}",
            received_at=start + timedelta(hours=n),
        )
        refs[n] = case.ref
    db.session.commit()
    return refs


def test_after_the_queue_prepares_search_a_case_on_a_later_page_is_found(
    app: Flask, live_server: Any, browser: Any
) -> None:
    base = live_server.url
    other = make_org_key()  # an older key
    org = make_org_key()  # the current one: what tokens are made with
    refs = make_cases(org, 30)
    # A case sealed to a key this caseworker does not hold: skipped, and said so.
    make_case(other, {"victim_name": "Sample person 99"}, ref="RF-FOREIGN1")
    db.session.commit()
    user = give_key(give_key(make_user(Role.CASEWORKER), org), other)
    assert indexed_count() == 0  # nobody has shown any of them
    sent: list[str] = []
    context = signed_in_context(
        browser, app, base, user, locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    # The stub holds one key; the foreign case's is another: it cannot be opened here.
    context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        record(page, sent)
        page.goto(f"{base}/cases/?view=all")
        first_page = set(shown_refs(page))
        assert len(first_page) == 25
        later = sorted(n for n, ref in refs.items() if ref not in first_page)
        assert later  # some cases are only on page 2, which nobody opens

        wait_for(lambda: indexed_count() == 30, timeout=60)  # page 2's too, never shown
        status = page.locator("#search-prepare")
        assert status.get_attribute("role") == "status"
        assert status.get_attribute("aria-live") == "polite"
        page.wait_for_selector("#search-prepare:has-text('cannot open')")
        assert status.inner_text() == "Cases your keys cannot open, so not searchable: 1"

        target = later[-1]
        search(page, f"Sample person {target}")
        assert shown_refs(page) == [refs[target]]
        # The foreign case is still not searchable here, and the result says so.
        assert "1 case is not yet searchable" in page.locator("[data-search-pending]").inner_text()
        search(page, PLACE)
        assert len(shown_refs(page)) == 25  # every readable case, 25 to a page
        assert "30 cases" in page.locator(".queue-count").inner_text()
    finally:
        context.close()

    for secret in ("sample", "person", PLACE.lower()):
        assert not [s for s in sent if secret in s], secret
    assert PLACE.lower() not in db_dump().lower()


def test_leaving_the_queue_stops_the_preparation_and_the_next_visit_carries_on(
    app: Flask, live_server: Any, browser: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    refs = make_cases(org, 45)  # 25 on the first page, then two batches of 10
    user = give_key(make_user(Role.CASEWORKER), org)
    context = signed_in_context(browser, app, base, user, locale="en-GB")
    context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
    batches: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)

        def hold_second_batch(route: Any) -> None:
            batches.append(route.request.url)
            if len(batches) == 2:
                route.abort()  # as if the page were left while it was on its way
                return
            route.continue_()

        page.route("**/cases/search-backlog*", hold_second_batch)
        page.goto(f"{base}/cases/?view=all")
        wait_with(page, lambda: len(batches) >= 2)
        wait_with(page, lambda: indexed_count() >= 25)
        page.wait_for_timeout(1500)
        stopped_at = indexed_count()
        assert 25 <= stopped_at < 45  # stopped part-way
        assert len(batches) == 2  # and asked for nothing more
        assert page.locator("#search-prepare").is_hidden()  # no progress that is not happening

        # The next visit carries on and finishes (its own rows were indexed already: the rest
        # is the background's).
        page.unroute("**/cases/search-backlog*")
        page.goto(f"{base}/cases/?view=all")
        wait_with(page, lambda: indexed_count() == 45)
        page.wait_for_selector("#search-prepare:has-text('Search is ready')")
        search(page, "Sample person 40")
        assert shown_refs(page) == [refs[40]]
    finally:
        context.close()
