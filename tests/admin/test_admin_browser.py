"""/admin/users and /admin/keys in real Chromium: on a 360 px phone one card per account or
grant, every field labelled, actions on the screen and nothing off its side; at 1280 px a
table. Without JavaScript, a reset or a revocation asks first and Cancel changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import KeyGrant, OutboxStatus, Role, User
from tests.builders import make_org_key, make_staff_with_keys, make_user, signed_in_context
from tests.public.test_accessibility import assert_accessible, no_horizontal_scroll

pytestmark = pytest.mark.browser

LONG_EMAIL = "maria.fernanda.long-address@frontline-partners.example.org"

# Where each cell of a row lies and the label a card shows before it ("State: " gives "State").
CELLS = """rows => rows.map(row => [...row.cells].map(cell => {
  const box = cell.getBoundingClientRect();
  const label = getComputedStyle(cell, '::before').content.match(/^"(.*?)[:：]? *"$/);
  return {text: cell.innerText.trim(), left: box.left, right: box.right,
          label: label && label[1]};
}))"""
# Every button of a cell: where it lies, and whether it is shown at all.
BUTTONS = """cell => [...cell.querySelectorAll('button')].map(b => {
  const box = b.getBoundingClientRect();
  return {text: b.innerText.trim(), left: box.left, right: box.right, width: box.width,
          shown: getComputedStyle(b).visibility === 'visible'};
})"""


@dataclass
class Desk:
    admin: User
    colleague: User
    long: User


@pytest.fixture
def desk(app: Flask) -> Desk:
    """An admin, two caseworkers holding the key (one with a long address), a viewer who has
    not been granted it and a caseworker locked out after failed sign-ins."""
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, org, email="cw@example.org")
    long, _ = make_staff_with_keys(Role.CASEWORKER, org, email=LONG_EMAIL)
    make_user(Role.VIEWER, email="viewer@example.org")
    make_user(Role.CASEWORKER, email="locked@example.org").locked_until = utcnow() + timedelta(
        minutes=10
    )
    db.session.commit()
    return Desk(admin, colleague, long)


@pytest.fixture
def page_at(browser: Any, app: Flask, live_server: Any, desk: Desk) -> Iterator[Any]:
    """page_at(width, javascript=True): a page signed in as the admin."""
    contexts: list[Any] = []

    def open_page(width: int, javascript: bool = True) -> Any:
        context = signed_in_context(
            browser,
            app,
            live_server.url,
            desk.admin,
            viewport={"width": width, "height": 800},
            java_script_enabled=javascript,
            bypass_csp=True,  # for axe only
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_at_360_px_each_account_is_a_labelled_card_with_its_actions_on_the_screen(
    live_server: Any, page_at: Any, desk: Desk, locale: str
) -> None:
    page = page_at(360)
    page.goto(f"{live_server.url}/admin/users?lang={locale}")
    assert no_horizontal_scroll(page)
    headers = page.locator("main table thead th").all_text_contents()
    assert page.locator("main table").evaluate("t => getComputedStyle(t).display") == "block"
    rows = page.locator("main table tbody tr").evaluate_all(CELLS)
    assert len(rows) == 5
    for cells in rows:
        assert len(cells) == len(headers) == 5, cells
        for cell in cells:
            assert cell["left"] >= 0, cell
            assert cell["right"] <= 360, cell
        # The e-mail heads the card; role, state, last sign-in and actions say what they are.
        assert cells[0]["label"] is None, cells
        assert [cell["label"] for cell in cells[1:]] == headers[1:], cells
    actions = page.locator(f"[data-user-row='{desk.long.id}'] td:last-child")
    buttons = actions.evaluate(BUTTONS)
    assert len(buttons) == 3, buttons  # reset password, reset second factor, deactivate
    for button in buttons:
        assert button["shown"], button
        assert button["width"] > 0, button
        assert button["left"] >= 0, button
        assert button["right"] <= 360, button
    assert_accessible(page, f"/admin/users at 360 px ({locale})")
    actions.locator("form[action$='/deactivate'] button").click()
    page.wait_for_selector("[data-confirm='deactivate']")
    assert no_horizontal_scroll(page)
    assert_accessible(page, f"the deactivation confirmation at 360 px ({locale})")

    page.goto(f"{live_server.url}/admin/keys?lang={locale}")
    assert no_horizontal_scroll(page)
    for row in page.locator("main table.grant-table tbody tr").all():
        box = row.locator("button").bounding_box()
        assert box is not None
        assert box["x"] >= 0, box
        assert box["x"] + box["width"] <= 360, box


def test_at_1280_px_the_accounts_are_a_table(live_server: Any, page_at: Any) -> None:
    page = page_at(1280)
    page.goto(f"{live_server.url}/admin/users")
    table = page.locator("main table")
    assert table.evaluate("t => getComputedStyle(t).display") == "table"
    assert table.locator("thead").is_visible()
    assert no_horizontal_scroll(page)


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_without_javascript_a_reset_asks_first_and_cancel_changes_nothing(
    live_server: Any, page_at: Any, desk: Desk, locale: str
) -> None:
    page = page_at(360, javascript=False)
    base = live_server.url
    page.goto(f"{base}/admin/users?lang={locale}")
    reset = page.locator(f"[data-user-row='{desk.colleague.id}'] form[action$='/reset-password']")
    reset.locator("button").click()
    page.wait_for_selector("[data-confirm='reset_password']")
    assert "cw@example.org" in page.locator("h1").inner_text()
    assert no_horizontal_scroll(page)
    page.locator("[data-cancel]").click()
    page.wait_for_url(f"{base}/admin/users")
    db.session.expire_all()
    assert db.session.get(User, desk.colleague.id).password_hash is not None  # type: ignore[union-attr]

    reset.locator("button").click()
    page.locator("[data-confirm-button]").click()
    page.wait_for_selector("[data-enrol-link]")
    db.session.expire_all()
    colleague = db.session.get(User, desk.colleague.id)
    assert colleague is not None
    assert colleague.password_hash is None
    assert colleague.wrapped_secret_key is None


def test_without_javascript_revoking_a_grant_asks_first(
    live_server: Any, page_at: Any, desk: Desk
) -> None:
    page = page_at(360, javascript=False)
    base = live_server.url
    grant = db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == desk.long.id))
    assert grant is not None
    page.goto(f"{base}/admin/keys")
    page.locator(f"[data-grant-row='{grant.id}'] button").click()
    page.wait_for_selector("[data-confirm='revoke']")
    assert no_horizontal_scroll(page)
    db.session.expire_all()
    assert db.session.get(KeyGrant, grant.id).revoked_at is None  # type: ignore[union-attr]
    page.locator("[data-confirm-button]").click()
    page.wait_for_url(f"{base}/admin/keys")
    assert page.locator(f"[data-grant-row='{grant.id}']").count() == 0
    db.session.expire_all()
    assert db.session.get(KeyGrant, grant.id).revoked_at is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_at_390_px_each_sent_reminder_is_a_labelled_card_on_the_screen(
    live_server: Any, page_at: Any, desk: Desk, locale: str
) -> None:
    """Admin › Background jobs at 390 px: "Sent recently" clipped its Reminder column and
    scrolled sideways; now one labelled card per e-mail, as the queue's rows."""
    from tests.admin.test_reminders_page import reminder_email
    from tests.referrals.conftest import sent_referral

    referral = sent_referral(owner=desk.long, entry_id="test-ngo")
    reminder_email(desk.long, [referral], OutboxStatus.SENT)
    page = page_at(390)
    page.goto(f"{live_server.url}/admin/reminders?lang={locale}")
    assert no_horizontal_scroll(page)
    table = page.locator("[data-sent-reminders]")
    assert table.evaluate("t => getComputedStyle(t).display") == "block"
    headers = table.locator("thead th").all_text_contents()
    (cells,) = table.locator("tbody tr").evaluate_all(CELLS)
    assert [cell["label"] for cell in cells] == headers
    for cell in cells:
        assert cell["left"] >= 0, cell
        assert cell["right"] <= 390, cell
    assert LONG_EMAIL in cells[1]["text"]


@pytest.mark.parametrize(("locale", "lock"), [("en", "Lock keys"), ("zh_Hant", "鎖定金鑰")])
def test_a_double_click_on_invite_sends_one_post_and_shows_its_link(
    live_server: Any, page_at: Any, desk: Desk, locale: str, lock: str
) -> None:
    """A double click on "Create account and show link" posted twice: the second post was
    refused (a 500 then) and the first one's link was lost with its answer."""
    page = page_at(1280)
    page.goto(f"{live_server.url}/admin/users?lang={locale}")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.fill("#email", "new.colleague@example.org")
    # Two presses, the second while the first is on its way: one goes. (Chromium replaces a
    # pending post by the next one, but the server had the first already.)
    sent = page.locator("form[data-send-once]").evaluate(
        """form => {
          let sent = 0;
          const count = e => { if (!e.defaultPrevented) sent += 1; e.preventDefault(); };
          window.addEventListener('submit', count);
          form.requestSubmit();
          form.requestSubmit();
          window.removeEventListener('submit', count);
          form.removeAttribute('data-sending');
          return sent;
        }"""
    )
    assert sent == 1
    with page.expect_navigation():
        page.locator("form[data-send-once] button[type=submit]").dblclick()
    assert len(posts) == 1, posts
    assert "/auth/enrol/" in page.locator("main").inner_text()
    db.session.expire_all()
    assert db.session.scalar(sa.select(User).where(User.email == "new.colleague@example.org"))
    # The header's button says what it locks, and "Account" stands apart from it ("Lock" then
    # "Account" read as one phrase: 鎖定帳號, lock the account).
    assert page.locator("[data-lock-button]").evaluate("b => b.textContent") == lock
    apart = page.locator(".lock-state-account").evaluate(
        "a => getComputedStyle(a).borderInlineStartStyle"
    )
    assert apart == "solid", apart


def test_on_a_phone_the_pages_title_is_not_smaller_than_its_sections(
    live_server: Any, page_at: Any
) -> None:
    """At 390 px the browser's 1.5em section headings were larger than the page's title
    ("Invite a colleague" above "Staff accounts"; a review in Chromium)."""
    page = page_at(390)
    for path in ("/admin/users", "/admin/keys", "/cases/", "/referrals/"):
        page.goto(f"{live_server.url}{path}")
        sizes = page.evaluate(
            """() => ({h1: parseFloat(getComputedStyle(document.querySelector('main h1')).fontSize),
                       h2: [...document.querySelectorAll('main h2')].map(
                         h => parseFloat(getComputedStyle(h).fontSize))})"""
        )
        assert all(size < sizes["h1"] for size in sizes["h2"]), (path, sizes)
