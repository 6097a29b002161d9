"""An invited colleague who lost their link (or whose 7 days ran out) gets a new one: the
users page offers "Show a new invite link" for an account without a password, instead of the
password and second-factor resets that have nothing to reset there; the link has a copy
button (real Chromium)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import AuditEvent, Role, User
from intake.services import accounts
from tests.admin.test_admin import admin_client, post  # noqa: F401 (a fixture)
from tests.builders import make_staff_with_keys, session_cookie

INVITED = "invited@example.org"


def _row(html: str, email: str) -> str:
    found = re.search(rf"<tr[^>]*>\s*<th[^>]*>\s*{re.escape(email)}.*?</tr>", html, re.S)
    assert found is not None, email
    return found.group(0)


def _invite(client: FlaskClient) -> User:
    assert post(client, "/admin/users", email=INVITED, role="caseworker").status_code == 201
    user = db.session.scalar(sa.select(User).where(User.email == INVITED))
    assert user is not None
    return user


def test_an_invited_colleague_gets_a_new_link_and_no_resets(
    admin_client: tuple[FlaskClient, User, Any],  # noqa: F811
) -> None:
    client, admin, org = admin_client
    invited = _invite(client)
    enrolled, _ = make_staff_with_keys(Role.CASEWORKER, org)
    page = client.get("/admin/users").get_data(as_text=True)
    row = _row(page, INVITED)
    assert "Show a new invite link" in row
    assert "Reset password" not in row
    assert "Reset second factor" not in row
    other = _row(page, enrolled.email)
    assert "Reset password" in other
    assert "Show a new invite link" not in other

    response = post(client, f"/admin/users/{invited.id}/invite-link")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"A new invite link for {INVITED}." in html
    token = re.search(r"/auth/enrol/([A-Za-z0-9_.\-]+)", html)
    assert token is not None
    assert accounts.user_for_enrol_token(token.group(1)) == invited
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "admin.invite_link")
    ).one()
    assert (event.actor_id, event.target_id) == (admin.id, str(invited.id))


@pytest.mark.parametrize("case", ["enrolled", "deactivated", "missing"])
def test_no_invite_link_for_an_account_with_a_password_or_none_at_all(
    admin_client: tuple[FlaskClient, User, Any],  # noqa: F811
    case: str,
) -> None:
    client, _admin, org = admin_client
    if case == "enrolled":
        user, _ = make_staff_with_keys(Role.CASEWORKER, org)
        user_id = user.id
    elif case == "deactivated":
        user = _invite(client)
        user.is_active_account = False
        db.session.commit()
        user_id = user.id
    else:
        user_id = 999_999
    response = post(client, f"/admin/users/{user_id}/invite-link")
    assert response.status_code == (404 if case == "missing" else 302)
    if case != "missing":
        page = client.get("/admin/users").get_data(as_text=True)
        assert (
            "set a password already" if case == "enrolled" else "This account is deactivated"
        ) in page
        assert "/auth/enrol/" not in page
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.action == "admin.invite_link")
        )
        == 0
    )


def test_without_its_csrf_token_nothing_is_issued(
    admin_client: tuple[FlaskClient, User, Any],  # noqa: F811
) -> None:
    client, _admin, _org = admin_client
    invited = _invite(client)
    assert client.post(f"/admin/users/{invited.id}/invite-link").status_code == 400
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.action == "admin.invite_link")
        )
        == 0
    )


@pytest.mark.browser
def test_the_copy_button_copies_the_link(app: Flask, live_server: Any, browser: Any) -> None:
    admin, _ = make_staff_with_keys(Role.ADMIN)
    context = browser.new_context(viewport={"width": 390, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.add_cookies(
        [
            {
                "name": app.config["SESSION_COOKIE_NAME"],
                "value": session_cookie(app, admin),
                "url": live_server.url,
            }
        ]
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/users")
        page.fill("#email", INVITED)
        page.click("form[action='/admin/users'] button[type=submit]")
        page.wait_for_load_state("load")
        link = page.locator("#enrol-link").inner_text().strip()
        assert "/auth/enrol/" in link
        page.click("#copy-enrol-link")
        page.wait_for_function(
            "document.getElementById('copy-enrol-status').textContent.length > 0"
        )
        assert page.locator("#copy-enrol-status").inner_text().startswith("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == link
    finally:
        context.close()
