"""Real Chromium on the queue: names decrypted in the browser for the page's rows, search by
keyed tokens (the words never reach the server or the database), assign to me, and the page at
360 px and under axe in English and 繁體中文."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, unquote_plus

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseSearchIndex, Role, Urgency, User
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_case,
    make_org_key,
    make_user,
    session_cookie,
    signed_in_context,
)
from tests.cases.test_browser import AXE, STUB_KEYRING, db_dump

pytestmark = pytest.mark.browser

NAME = "María López-Ortega"
PLACE = "台北市大安區"
PHONE = "+886 912-345-678"
ANSWERS = {
    "victim_name": NAME,
    "where_happened": PLACE,
    "sender_contact": f"Call {PHONE} after eight",
    "what_happened": "Detained at the Zhongshan precinct; family not told where",
}
# What must never reach the server: the words, and the forms they could be sent in.
SECRETS = ["maría", "maria", "lópez", "lopez", "ortega", "台北", "大安", "912345678", "345678"]


def open_context(
    browser: Any, app: Flask, base: str, user: User, org: OrgKeyPair | None, width: int = 1280
) -> Any:
    context = signed_in_context(
        browser, app, base, user, locale="en-GB", viewport={"width": width, "height": 900}
    )
    if org is not None:
        context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
    return context


@pytest.fixture
def sent() -> list[str]:
    """Every URL and request body the page sends (decoded, lower-cased)."""
    return []


def record(page: Any, seen: list[str]) -> None:
    def on_request(request: Any) -> None:
        for raw in (request.url, request.post_data or ""):
            seen.append(unquote_plus(unquote(raw)).lower())

    page.on("request", on_request)


def open_queue(
    browser: Any, app: Flask, base: str, user: User, org: OrgKeyPair, sent: list[str]
) -> tuple[Any, Any]:
    """(context, page): ``user``'s queue, all tabs, with the keys of ``org`` in the tab and
    every request the page sends recorded in ``sent``."""
    context = open_context(browser, app, base, user, org)
    page = context.new_page()
    page.set_default_timeout(20_000)
    record(page, sent)
    page.goto(f"{base}/cases/?view=all")
    return context, page


def wait_for(condition: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        db.session.expire_all()
        db.session.rollback()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def shown_refs(page: Any) -> list[str]:
    return sorted(page.locator("tr.case-row").evaluate_all("rows => rows.map(r => r.dataset.ref)"))


def search(page: Any, words: str) -> None:
    page.fill("#q", words)
    with page.expect_navigation():
        page.click("#queue-search button[type=submit]")


def test_the_queue_shows_names_decrypted_here_and_search_finds_by_name_place_and_phone(
    app: Flask, live_server: Any, browser: Any, sent: list[str]
) -> None:
    base = live_server.url
    org = make_org_key()
    target = make_case(org, ANSWERS, ref="RF-TARGET01")
    make_case(org, {"victim_name": "Someone Else", "what_happened": "x"}, ref="RF-OTHER001")
    user = make_user(Role.CASEWORKER)
    context, page = open_queue(browser, app, base, user, org, sent)
    try:
        row = page.locator('tr.case-row[data-ref="RF-TARGET01"]')
        page.wait_for_selector('tr[data-ref="RF-TARGET01"][data-person-state=open]')
        assert row.locator("[data-person-name]").inner_text() == NAME
        assert "Zhongshan precinct" in row.locator("[data-person-summary]").inner_text()
        # The first key holder's queue indexed both rows.
        wait_for(lambda: db.session.scalar(sa.select(sa.func.count(CaseSearchIndex.case_id))) == 2)

        queries = ("maria", "LOPEZ ortega", "大安", "台北市", "０９１２ ３４５ ６７８", "345678")
        for words in queries:
            search(page, words)
            assert shown_refs(page) == ["RF-TARGET01"], words
            assert page.input_value("#q") == words  # refilled from this tab, not the server
        search(page, "maria nobody")
        assert shown_refs(page) == []
        assert "No case matches this search" in page.locator("main").inner_text()
        search(page, "rf other 001")  # as read aloud: searched as a reference, not as words
        assert shown_refs(page) == ["RF-OTHER001"]
        assert "q=rf+other+001" in page.url
        search(page, "RF-OTHER")  # a reference is still searched as one
        assert shown_refs(page) == ["RF-OTHER001"]
        # The results say they are a search's, with the way back, and the count is read out
        # (it has the focus): the page read "Cases" as before the search (a review).
        count = page.locator(".queue-count")
        assert count.inner_text().startswith("1 case matches this search")
        assert count.get_by_role("link", name="Clear the search").is_visible()
        assert page.evaluate("document.activeElement.matches('.queue-count')")
        assert page.title().startswith("Search results")

        # Locking forgets the words with the names: the box, and what refills it (they stayed
        # above the matching row after Lock, and came back with Back and Forward).
        search(page, "maria")
        stored = "sessionStorage.getItem('refuge.queue.search')"
        assert "maria" in page.evaluate(stored)
        with page.expect_navigation():
            page.evaluate("window.RefugeKeyring.lock()")  # as the header's Lock, the idle lock
        assert page.input_value("#q") == ""
        assert page.evaluate(stored) is None
        # ... and the list it found: no longer filtered by a search the page does not show.
        assert "t=" not in page.url
        assert shown_refs(page) == ["RF-OTHER001", "RF-TARGET01"]
        page.reload()
        assert page.input_value("#q") == ""
    finally:
        context.close()

    for secret in SECRETS:
        assert not [s for s in sent if secret in s], secret
    assert "zhongshan" not in "\n".join(sent)
    dump = db_dump().lower()
    for secret in [*SECRETS, "zhongshan"]:
        assert secret not in dump, secret
    assert db.session.get_one(Case, target.id).sealed_answers  # still only ciphertext


def test_search_finds_chinese_written_in_either_script_by_a_query_in_either(
    app: Flask, live_server: Any, browser: Any, sent: list[str]
) -> None:
    """A case written in Traditional characters was not found by the same words typed in
    Simplified ones (人权 did not find 人權), nor the other way round: a caseworker in Taiwan
    and one in the mainland type the same name differently."""
    base = live_server.url
    org = make_org_key()
    make_case(org, {"victim_name": "陳光誠", "where_happened": "臺北市"}, ref="RF-HANT0001")
    make_case(org, {"victim_name": "许志永", "what_happened": "人权律师被带走"}, ref="RF-HANS0001")
    make_case(org, {"victim_name": "Someone Else", "what_happened": "人身安全"}, ref="RF-OTHER001")
    user = make_user(Role.CASEWORKER)
    context, page = open_queue(browser, app, base, user, org, sent)
    try:
        page.wait_for_selector('tr[data-ref="RF-HANT0001"][data-person-state=open]')
        wait_for(lambda: db.session.scalar(sa.select(sa.func.count(CaseSearchIndex.case_id))) == 3)
        for words, found in (
            ("陈光诚", ["RF-HANT0001"]),  # Simplified finds Traditional
            ("台北", ["RF-HANT0001"]),  # 台 is 臺's Simplified form
            ("臺北市", ["RF-HANT0001"]),
            ("許志永", ["RF-HANS0001"]),  # Traditional finds Simplified
            ("人權律師", ["RF-HANS0001"]),
            ("人權", ["RF-HANS0001"]),
            ("人身", ["RF-OTHER001"]),
        ):
            search(page, words)
            assert shown_refs(page) == found, words
            assert page.input_value("#q") == words  # as typed, not folded
    finally:
        context.close()
    for secret in ("陈光诚", "陳光誠", "許志永", "许志永", "人权", "人權"):
        assert not [s for s in sent if secret in s], secret


def test_without_the_folding_table_no_case_is_indexed(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Tokens keyed without folding would never match those keyed with it: a page whose
    vendor/han-fold.js did not load indexes nothing, and the case stays in the backlog."""
    base = live_server.url
    org = make_org_key()
    make_case(org, {"victim_name": "陳光誠"}, ref="RF-HANT0001")
    user = make_user(Role.CASEWORKER)
    context = open_context(browser, app, base, user, org)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.route("**/vendor/han-fold.js?*", lambda route: route.abort())
        posted: list[str] = []
        page.on("request", lambda r: posted.append(r.url) if "search-tokens" in r.url else None)
        page.goto(f"{base}/cases/?view=all")
        page.wait_for_selector('tr[data-ref="RF-HANT0001"][data-person-state=open]')
        page.wait_for_timeout(1500)
        assert posted == []
        db.session.expire_all()
        assert db.session.scalar(sa.select(sa.func.count(CaseSearchIndex.case_id))) == 0
    finally:
        context.close()


def test_with_keys_locked_rows_show_placeholders_and_search_asks_for_the_keys(
    app: Flask, live_server: Any, browser: Any, sent: list[str]
) -> None:
    org = make_org_key()
    make_case(org, ANSWERS, ref="RF-LOCKED01")
    user = make_user(Role.CASEWORKER)
    context = open_context(browser, app, live_server.url, user, None)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        record(page, sent)
        page.goto(f"{live_server.url}/cases/?view=all")
        page.wait_for_selector("tr[data-person-state=locked]")
        assert "keys locked" in page.locator("[data-person-name]").inner_text()
        page.fill("#q", "maria")
        page.click("#queue-search button[type=submit]")
        page.wait_for_selector("[data-search-error]:not([hidden])")
        assert "Unlock your keys" in page.locator("[data-search-error]").inner_text()
        assert not [s for s in sent if "maria" in s]
    finally:
        context.close()
    assert db.session.scalar(sa.select(sa.func.count(CaseSearchIndex.case_id))) == 0


def test_assign_to_me_from_the_queue_and_from_the_case_page(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    first = make_case(org, ref="RF-ASSIGN01")
    second = make_case(org, ref="RF-ASSIGN02")
    colleague = give_key(make_user(Role.CASEWORKER), org)  # the select lists someone else too
    user = give_key(make_user(Role.CASEWORKER), org)
    context = open_context(browser, app, live_server.url, user, org)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/cases/?view=all&sort=ref")
        with page.expect_navigation():
            page.locator('tr[data-ref="RF-ASSIGN01"] button[value=me]').click()
        page.goto(f"{live_server.url}/cases/{second.ref}")
        with page.expect_navigation():
            page.get_by_role("button", name="Assign to me").click()
        assert f"Assigned to {user.email}." in page.locator("main").inner_text()
    finally:
        context.close()
    db.session.expire_all()
    assert db.session.get_one(Case, first.id).assignee_id == user.id
    assert db.session.get_one(Case, second.id).assignee_id == user.id
    assert colleague.id != user.id


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_the_queue_at_360_px_has_no_horizontal_scroll_and_no_axe_violations(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    org = make_org_key()
    for number in range(6):
        make_case(org, ANSWERS, ref=f"RF-PHONE{number:03d}", country="TW", languages=["zh", "en"])
    user = make_user(Role.CASEWORKER)
    context = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 740})
    context.add_cookies(
        [
            {
                "name": app.config["SESSION_COOKIE_NAME"],
                "value": session_cookie(app, user),
                "url": live_server.url,
            }
        ]
    )
    context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        for path in (f"/cases/?view=all&lang={locale}", "/cases/?view=closed"):
            page.goto(f"{live_server.url}{path}")
            if "closed" not in path:
                page.wait_for_selector("tr[data-person-state=open]")
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], (path, widths)
            if "closed" not in path:
                # A card's labels end as the language sets them: "到期：", not "到期: ".
                lead = page.evaluate(
                    "getComputedStyle(document.querySelector('.case-table td[data-label]"
                    ":not(.cell-person):not(.cell-urgency):not(.cell-status)'), '::before')"
                    ".content"
                )
                assert lead.endswith({"en": ': "', "zh_Hant": '："'}[locale]), lead
            page.add_script_tag(content=AXE.read_text())
            found = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            )
            summary = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in found]
            assert summary == [], (path, summary)
    finally:
        context.close()


# The sort select's width, and the width Chromium gives a copy of it left to its own size (as
# wide as its longest label): a select's scrollWidth never exceeds its clientWidth, even cut.
SORT_WIDTHS = """() => {
  const select = document.getElementById('sort');
  const copy = select.cloneNode(true);
  copy.removeAttribute('id');
  copy.style.cssText = 'position: absolute; visibility: hidden; width: auto; max-width: none';
  select.parentElement.appendChild(copy);
  const needed = copy.getBoundingClientRect().width;
  copy.remove();
  const bar = document.querySelector('.queue-filters');
  const root = document.documentElement;
  return {shown: select.getBoundingClientRect().width, needed,
          right: select.getBoundingClientRect().right, viewport: root.clientWidth,
          bar: [bar.scrollWidth, bar.clientWidth], page: [root.scrollWidth, root.clientWidth]};
}"""


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_the_sort_select_shows_its_whole_label_at_1280_px_and_fits_at_390_px(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    org = make_org_key()
    make_case(org, ANSWERS, ref="RF-SORT001")
    user = make_user(Role.CASEWORKER)
    for width in (1280, 390):
        context = open_context(browser, app, live_server.url, user, org, width)
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{live_server.url}/cases/?lang={locale}")
            page.click("details.queue-filter-panel > summary")
            sizes = page.evaluate(SORT_WIDTHS)
            # "Urgency, then deadline" whole, not "Urgency, then de" (nor any other order).
            assert sizes["shown"] >= sizes["needed"] - 0.5, (width, sizes)
            # And nothing runs off a phone's screen: the bar, the page, the select.
            assert sizes["bar"][0] <= sizes["bar"][1], (width, sizes)
            assert sizes["page"][0] <= sizes["page"][1], (width, sizes)
            assert sizes["right"] <= sizes["viewport"], (width, sizes)
        finally:
            context.close()


BADGE_LINES = """() => Array.from(document.querySelectorAll('.case-table .badge')).map(badge => {
  const style = getComputedStyle(badge);
  return {text: badge.textContent.trim(), height: badge.getBoundingClientRect().height,
          line: parseFloat(style.lineHeight) || 1.5 * parseFloat(style.fontSize)};
})"""


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_urgency_and_flag_badges_stay_on_one_line_in_chinese_at_1280_px(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    """In Chinese any character may end a line: the table's narrow urgency column cut "立即"
    and "数日内" into one character per line (a reviewer's screenshot, 2026-12-04)."""
    org = make_org_key()
    long_answers = {**ANSWERS, "what_happened": "拘留" * 120}
    long_ago = utcnow() - timedelta(days=110)  # "first response — 110 days overdue"
    make_case(
        org,
        long_answers,
        received_at=long_ago,
        ref="RF-BADGE001",
        urgency=Urgency.IMMEDIATE,
        country="BD",
        languages=["bn", "en"],
    )
    make_case(
        org,
        long_answers,
        received_at=long_ago,
        ref="RF-BADGE002",
        urgency=Urgency.DAYS,
        country="BD",
        languages=["bn", "en", "zh"],
    )
    user = make_user(Role.CASEWORKER)
    user.language = locale
    db.session.commit()
    context = open_context(browser, app, live_server.url, user, org, 1280)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/cases/?view=open&lang={locale}")
        page.wait_for_selector("tr.case-row .person-name:not(.placeholder)")
        badges = page.evaluate(BADGE_LINES)
        assert {badge["text"] for badge in badges} >= (
            {"立即", "数日内"} if locale == "zh_Hans" else {"立即", "數日內"}
        ), badges
        for badge in badges:
            assert badge["height"] < 1.6 * badge["line"], badge
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/cases/", "/referrals/", "/admin/users"])
def test_a_wide_pages_footer_lines_up_with_its_content_at_1280_px(
    app: Flask, live_server: Any, browser: Any, path: str
) -> None:
    """The footer stayed 60rem wide and centred under 84rem pages (x 160-1120 under 16-1264)."""
    org = make_org_key()
    user = make_user(Role.ADMIN)
    context = open_context(browser, app, live_server.url, user, org)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}{path}")
        main = page.locator("main").bounding_box()
        footer = page.locator(".site-footer").bounding_box()
        assert main is not None
        assert footer is not None
        assert abs(main["x"] - footer["x"]) < 2, (main, footer)
        assert abs(main["width"] - footer["width"]) < 2, (main, footer)
    finally:
        context.close()


@pytest.mark.parametrize(
    ("locale", "words", "said"),
    [
        ("en", "Bangladesh", "Cases from Bangladesh (the Country filter)"),
        ("zh_Hant", "孟加拉", "來自孟加拉的案件（國家篩選）"),
    ],
)
def test_a_country_searched_by_name_offers_the_country_filter(
    app: Flask, live_server: Any, browser: Any, locale: str, words: str, said: str
) -> None:
    """ "Bangladesh" and 孟加拉 found nothing, though cases came from there: the country is a
    routing fact, not in the answers the words are matched against (a review in Chromium)."""
    org = make_org_key()
    make_case(
        org, {"victim_name": "Someone", "what_happened": "x"}, ref="RF-BANGLA01", country="BD"
    )
    make_case(org, {"victim_name": "Other", "what_happened": "x"}, ref="RF-MEXICO01", country="MX")
    user = make_user(Role.CASEWORKER)
    context = open_context(browser, app, live_server.url, user, org)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{live_server.url}/cases/?view=all&lang={locale}")
        page.wait_for_selector('tr[data-ref="RF-BANGLA01"][data-person-state=open]')
        wait_for(lambda: db.session.scalar(sa.select(sa.func.count(CaseSearchIndex.case_id))) == 2)
        search(page, words)
        assert shown_refs(page) == []
        offer = page.locator("[data-country-suggestion]")
        assert offer.is_visible()
        assert offer.inner_text() == said
        # Apart from the link before it (they ran together: "Clear the search Cases from …").
        assert f" · {said}" in page.locator(".empty-state").inner_text()
        with page.expect_navigation():
            offer.click()
        assert shown_refs(page) == ["RF-BANGLA01"]
        search(page, "nobody at all")  # other words: no offer
        assert page.locator("[data-country-suggestion]").is_hidden()
    finally:
        context.close()
