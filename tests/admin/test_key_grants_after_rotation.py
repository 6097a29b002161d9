"""/admin/keys after rotations: the current key's grants are listed first and marked (revoking
one of them, then rotating, keeps a colleague out of new cases); grants of older keys are folded
under "Older keys", still revocable. At 390 px each grant is a card with its button on screen."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import KeyGrant, Role, User
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_org_key,
    make_staff_with_keys,
    sign_in,
    signed_in_context,
)
from tests.public.test_accessibility import assert_accessible, no_horizontal_scroll

LONG_EMAIL = "maria.fernanda.long-address@frontline-partners.example.org"


def rotated_desk() -> tuple[User, list[User], list[OrgKeyPair]]:
    """An admin and three colleagues, each holding all of four keys (#1 … #4, #4 current)."""
    keys = [make_org_key() for _ in range(4)]
    admin, _ = make_staff_with_keys(Role.ADMIN, keys[0], email="admin@example.org")
    colleagues = [
        make_staff_with_keys(Role.CASEWORKER, keys[0], email=email)[0]
        for email in ("mei@example.org", "ana@example.org", LONG_EMAIL)
    ]
    for key in keys[1:]:
        for person in (admin, *colleagues):
            give_key(person, key)
    return admin, colleagues, keys


def grant_of(user: User, key: OrgKeyPair) -> KeyGrant:
    grant = db.session.scalar(
        sa.select(KeyGrant).where(KeyGrant.user_id == user.id, KeyGrant.org_key_id == key.key.id)
    )
    assert grant is not None
    return grant


def test_current_key_grants_come_first_and_marked_older_ones_are_folded_and_revocable(
    app: Flask, client: FlaskClient
) -> None:
    admin, colleagues, keys = rotated_desk()
    sign_in(client, admin)
    html = client.get("/admin/keys").get_data(as_text=True)
    flat = re.sub(r"\s+", " ", html)
    start = html.index("data-current-grants")
    current = html[start : html.index("</table>", start)]
    # Each of the four holders once, each marked as holding the key new cases are sealed to.
    for person in (admin, *colleagues):
        assert f'data-grant-row="{grant_of(person, keys[3]).id}"' in current
        for old_key in keys[:3]:
            assert f'data-grant-row="{grant_of(person, old_key).id}"' not in current
    assert current.count("current key — new cases are sealed to it") == 4
    # Older keys' grants under a closed <details>, after the current ones, each still revocable.
    details = flat.index('<details class="older-grants"')
    assert flat.index("data-current-grants") < details
    folded = flat[details : flat.index("</details>", details)]
    assert "Older keys (12 grants): they open cases sealed before the rotation" in folded
    for person in (admin, *colleagues):
        for key in keys[:3]:
            grant = grant_of(person, key)
            assert f'data-grant-row="{grant.id}"' in folded
            assert f'action="/admin/keys/grants/{grant.id}/revoke"' in folded
    assert "current key" not in folded
    assert "first revoke their grant of the current key (marked below)" in flat

    chinese = client.get("/admin/keys?lang=zh_Hant").get_data(as_text=True)
    assert chinese.count("目前的金鑰——新案件都以它加密") == 4
    assert "較舊的金鑰（12 項授權）：用來打開輪替前加密的案件" in chinese


def test_with_one_key_there_is_no_older_keys_section(app: Flask, client: FlaskClient) -> None:
    key = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, key)
    sign_in(client, admin)
    html = client.get("/admin/keys").get_data(as_text=True)
    assert "data-current-grants" in html
    assert "Older keys" not in html
    # A grant revoked is listed nowhere; nobody holding the current key is said plainly.
    grant_of(admin, key).revoked_at = grant_of(admin, key).created_at
    db.session.commit()
    html = client.get("/admin/keys").get_data(as_text=True)
    assert "Nobody holds the current key." in html
    assert "data-grant-row" not in html


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_at_390_px_current_and_older_grants_are_cards_with_their_buttons_on_screen(
    app: Flask, live_server: Any, browser: Any, locale: str, tmp_path: Path
) -> None:
    admin, colleagues, keys = rotated_desk()
    context = signed_in_context(
        browser,
        app,
        live_server.url,
        admin,
        viewport={"width": 390, "height": 800},
        bypass_csp=True,  # for axe only
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/keys?lang={locale}")
        assert no_horizontal_scroll(page)
        current_rows = page.locator("table[data-current-grants] tbody tr")
        assert current_rows.count() == 4
        assert page.locator("table[data-older-grants] tbody tr").first.is_hidden()
        page.locator("details.older-grants > summary").click()
        older_rows = page.locator("table[data-older-grants] tbody tr")
        assert older_rows.count() == 12
        assert no_horizontal_scroll(page)
        for rows in (current_rows, older_rows):
            for row in rows.all():
                assert row.evaluate("r => getComputedStyle(r).display") == "block"  # a card
                box = row.locator("button").bounding_box()
                assert box is not None
                assert box["x"] >= 0, box
                assert box["x"] + box["width"] <= 390, box
        mark = page.locator(".badge-current-key").first.bounding_box()
        assert mark is not None
        assert mark["x"] + mark["width"] <= 390, mark
        assert_accessible(page, "main")
        # For a person to look at (pytest --basetemp=DIR keeps them).
        for part in ("#grants-heading", "details.older-grants > summary"):
            page.locator(part).evaluate("element => element.scrollIntoView()")
            name = f"keys-390-{locale}-{part[:8].strip('#.')}.png"
            page.screenshot(path=str(tmp_path / name))
    finally:
        context.close()


@pytest.mark.browser
def test_rotating_with_locked_keys_says_to_unlock_and_try_again_where_it_is_seen(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """With the keys locked, a rotation said "…then grant again" at the top of the page, out
    of sight of the rotation's button: now beside it, with the focus."""
    admin, _colleagues, _keys = rotated_desk()
    context = signed_in_context(
        browser, app, live_server.url, admin, viewport={"width": 390, "height": 800}
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/keys")
        form = page.locator("form[data-rotate-form]")
        form.locator("input[name='understood']").check()
        form.locator("button[type='submit']").click()
        error = form.locator("[data-form-error]")
        error.wait_for(state="visible")
        assert error.inner_text() == "Unlock your keys first (top of the page), then try again."
        assert error.evaluate("node => node === document.activeElement")
        assert page.locator("[data-grant-error]").is_hidden()
        box = error.bounding_box()
        assert box is not None
        assert 0 <= box["y"] <= 800 - box["height"], box  # on screen, not above it
        assert page.url.endswith("/admin/keys")  # nothing was posted
    finally:
        context.close()
