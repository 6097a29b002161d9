"""Admin actions that cannot be undone ask first; an admin's own row offers nothing that locks
them out.

Resetting a password or a second factor, deactivating an account and revoking a key grant
each post twice: the button in the list only shows what would happen (admin/confirm.html),
and only the post from that page, carrying ``confirmed``, acts. A one-click post, forged or
not, changes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import AuditEvent, KeyGrant, Role, User
from tests.auth.helpers import csrf_token
from tests.builders import make_org_key, make_staff_with_keys, sign_in
from tests.conftest import Untranslated


@dataclass
class Desk:
    client: FlaskClient
    admin: User
    colleague: User
    admin_grant: KeyGrant
    colleague_grant: KeyGrant


@pytest.fixture
def desk(app: Flask, client: FlaskClient) -> Desk:
    """A signed-in admin and a caseworker, both holding the organisation key."""
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, org, email="cw@example.org")
    grants = {g.user_id: g for g in db.session.scalars(sa.select(KeyGrant))}
    sign_in(client, admin)
    return Desk(client, admin, colleague, grants[admin.id], grants[colleague.id])


# action → (path for the desk, the page its button is on, the audit event it records)
ACTIONS = {
    "reset-password": (
        "/admin/users/{colleague}/reset-password",
        "/admin/users",
        "admin.password_reset",
    ),
    "reset-totp": ("/admin/users/{colleague}/reset-totp", "/admin/users", "admin.totp_reset"),
    "deactivate": ("/admin/users/{colleague}/deactivate", "/admin/users", "admin.user_deactivated"),
    "revoke": ("/admin/keys/grants/{grant}/revoke", "/admin/keys", "keys.revoked"),
}


def path_of(desk: Desk, action: str) -> str:
    return ACTIONS[action][0].format(colleague=desk.colleague.id, grant=desk.colleague_grant.id)


def state_of(desk: Desk) -> tuple[Any, ...]:
    """Everything these actions could change, and how many audit events there are."""
    db.session.expire_all()
    colleague = db.session.get(User, desk.colleague.id)
    assert colleague is not None
    return (
        colleague.password_hash,
        colleague.wrapped_secret_key,
        colleague.public_key,
        colleague.totp_secret,
        colleague.is_active_account,
        db.session.scalar(
            sa.select(sa.func.count()).select_from(KeyGrant).where(KeyGrant.revoked_at.is_(None))
        ),
        db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
    )


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    "confirmed",
    [None, "", "no", "YES", "yes " * 5000, ["yes", "yes"]],
    ids=["missing", "empty", "no", "upper", "huge", "twice"],
)
def test_a_one_click_post_only_asks_and_changes_nothing(
    desk: Desk, action: str, confirmed: Any
) -> None:
    path, page, _ = ACTIONS[action]
    data: dict[str, Any] = {"csrf_token": csrf_token(desk.client, page)}
    if confirmed is not None:
        data["confirmed"] = confirmed
    before = state_of(desk)
    response = desk.client.post(path_of(desk, action), data=data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Deactivation can be undone (activate again); only its revoked grants cannot, and the
    # page no longer says both "cannot be undone" and "activate again later".
    if action == "deactivate":
        assert "Their key grants cannot be restored." in html
        assert "This cannot be undone." not in html
    else:
        assert "This cannot be undone." in html
    # The real form, back to the same address with the confirmation, and a way out.
    assert f'<form method="post" action="{path_of(desk, action)}"' in html
    assert '<input type="hidden" name="confirmed" value="yes">' in html
    assert 'name="csrf_token"' in html
    assert f'href="{page}" data-cancel' in html
    # Shown only after a post: a language link opens the list it came from, in that language
    # (it led to the public landing page, out of the staff pages).
    assert f'href="{page}?lang=zh_Hant"' in html
    assert 'href="/?lang=' not in html
    assert state_of(desk) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_the_confirmed_post_acts_and_is_audited(desk: Desk, action: str) -> None:
    path, page, event = ACTIONS[action]
    before = state_of(desk)
    response = desk.client.post(
        path_of(desk, action),
        data={"csrf_token": csrf_token(desk.client, page), "confirmed": "yes"},
    )
    assert response.status_code in (200, 302)
    assert state_of(desk) != before
    recorded = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == event))
    assert recorded is not None
    assert recorded.actor_id == desk.admin.id
    assert recorded.target_id == str(desk.colleague.id)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("confirmed", [None, "yes"])
def test_without_a_csrf_token_neither_step_answers(
    desk: Desk, action: str, confirmed: str | None
) -> None:
    before = state_of(desk)
    data = {} if confirmed is None else {"confirmed": confirmed}
    assert desk.client.post(path_of(desk, action), data=data).status_code == 400
    assert state_of(desk) == before


def test_the_confirmation_says_what_will_happen(desk: Desk) -> None:
    def ask(path: str, page: str) -> str:
        data = {"csrf_token": csrf_token(desk.client, page)}
        return desk.client.post(path, data=data).get_data(as_text=True)

    reset = ask(path_of(desk, "reset-password"), "/admin/users")
    assert "Reset the password of cw@example.org?" in reset
    assert "The organisation key they hold is revoked." in reset
    assert "Their old key is gone for good" in reset
    deactivate = ask(path_of(desk, "deactivate"), "/admin/users")
    assert "Deactivate the account of cw@example.org?" in deactivate
    assert "the key grants do not come back" in deactivate
    revoke = ask(path_of(desk, "revoke"), "/admin/keys")
    assert "Revoke the key grant of cw@example.org?" in revoke
    assert f"organisation key #{desk.colleague_grant.org_key_id}" in revoke
    own = ask(f"/admin/keys/grants/{desk.admin_grant.id}/revoke", "/admin/keys")
    assert "Revoke your own key grant?" in own
    assert "You can no longer unlock organisation key" in own


def test_a_refused_action_is_refused_before_anyone_confirms_it(
    app: Flask, client: FlaskClient
) -> None:
    """The only holder of the key: the button says why not at once, no confirmation page."""
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN)  # holds no grant
    holder, _ = make_staff_with_keys(Role.CASEWORKER, org)
    sign_in(client, admin)
    grant = db.session.scalar(sa.select(KeyGrant))
    assert grant is not None
    for path, page in (
        (f"/admin/users/{holder.id}/reset-password", "/admin/users"),
        (f"/admin/users/{holder.id}/deactivate", "/admin/users"),
        (f"/admin/keys/grants/{grant.id}/revoke", "/admin/keys"),
    ):
        response = client.post(path, data={"csrf_token": csrf_token(client, page)})
        assert response.status_code == 302, path
        assert response.headers["Location"].endswith(page), path
        assert "only one holding the organisation key" in client.get(page).get_data(as_text=True)
    assert db.session.scalar(sa.select(KeyGrant.revoked_at)) is None


def row_of(html: str, user: User) -> str:
    found = re.search(rf'<tr data-user-row="{user.id}".*?</tr>', html, re.DOTALL)
    assert found, user.email
    return found.group(0)


def test_an_admins_own_row_offers_nothing_that_locks_them_out(desk: Desk) -> None:
    html = desk.client.get("/admin/users").get_data(as_text=True)
    mine, theirs = row_of(html, desk.admin), row_of(html, desk.colleague)
    for action in ("reset-password", "reset-totp", "deactivate", "role"):
        assert f"/admin/users/{desk.admin.id}/{action}" not in mine, action
        assert f"/admin/users/{desk.colleague.id}/{action}" in theirs, action
    assert "<select" not in mine
    assert 'href="/auth/account"' in mine
    assert "(you)" in mine
    assert "(you)" not in theirs


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("reset-password", "You cannot reset your own password here"),
        ("reset-totp", "You cannot reset your own second factor here"),
        ("deactivate", "You cannot deactivate your own account."),
        ("role", "You cannot remove your own admin role."),
    ],
)
@pytest.mark.parametrize("confirmed", [None, "yes"])
def test_an_admin_posting_an_action_on_themselves_is_refused_with_a_reason(
    desk: Desk, action: str, message: str, confirmed: str | None
) -> None:
    admin = desk.admin
    before = (admin.password_hash, admin.totp_secret, admin.is_active_account, admin.role)
    data = {"csrf_token": csrf_token(desk.client, "/admin/users"), "role": "viewer"}
    if confirmed:
        data["confirmed"] = confirmed
    response = desk.client.post(f"/admin/users/{admin.id}/{action}", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/users")
    page = desk.client.get("/admin/users")
    assert page.status_code == 200  # still signed in
    assert message in page.get_data(as_text=True)
    db.session.refresh(admin)
    assert (admin.password_hash, admin.totp_secret, admin.is_active_account, admin.role) == before
    assert not db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action.startswith("admin."), AuditEvent.target_id == str(admin.id)
        )
    )


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_every_confirmation_is_translated(
    desk: Desk, untranslated: Untranslated, locale: str
) -> None:
    desk.client.get(f"/admin/users?lang={locale}")
    asks = [(path_of(desk, action), page) for action, (_, page, _) in ACTIONS.items()]
    asks.append((f"/admin/keys/grants/{desk.admin_grant.id}/revoke", "/admin/keys"))
    for path, page in asks:
        token = csrf_token(desk.client, page)
        untranslated.clear()
        response = desk.client.post(path, data={"csrf_token": token})
        assert response.status_code == 200, path
        assert not untranslated.messages, f"{path} in {locale}: {sorted(untranslated.messages)}"
    for page in ("/admin/users", "/admin/keys"):
        untranslated.clear()
        assert desk.client.get(page).status_code == 200
        assert not untranslated.messages, f"{page} in {locale}: {sorted(untranslated.messages)}"
    # A refusal on yourself, in the reader's language.
    untranslated.clear()
    desk.client.post(
        f"/admin/users/{desk.admin.id}/reset-totp",
        data={"csrf_token": csrf_token(desk.client, "/admin/users")},
    )
    refused = desk.client.get("/admin/users").get_data(as_text=True)
    said = {
        "zh_Hant": "你不能在這裡重設自己的第二驗證因素",
        "zh_Hans": "你不能在这里重设自己的第二验证因素",
    }
    assert said[locale] in refused
    assert not untranslated.messages, sorted(untranslated.messages)
