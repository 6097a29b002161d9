"""Server-side staff sessions: the tab key that encrypts the browser's keyring, and every way a
session ends wiping it (sign-out, time-out, password change, reset, deactivation); the lockout
on invite links."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.auth.sessions import SID
from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, Role, StaffSession, User
from intake.services import staff_sessions
from tests.auth.helpers import csrf_token
from tests.builders import make_org_key, make_staff_with_keys, make_user, sign_in

TAB_KEY_HEADERS = {
    "X-Refuge-Keyring": "1",
    "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-Mode": "cors",
}


def record_of(client: FlaskClient) -> StaffSession:
    with client.session_transaction() as session:
        record = staff_sessions.find(session.get(SID))
    assert record is not None
    return record


def rows(user: User) -> list[StaffSession]:
    return list(db.session.scalars(sa.select(StaffSession).where(StaffSession.user_id == user.id)))


def test_the_tab_key_is_this_sessions_own_and_never_cached(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.VIEWER)
    sign_in(client, user)
    response = client.get("/auth/keyring/tab-key", headers=TAB_KEY_HEADERS)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    record = record_of(client)
    assert data == {"session": record.id, "tab_key": record.tab_key}
    assert len(base64.b64decode(data["tab_key"], validate=True)) == 32
    # Another sign-in of the same person has another key.
    other = app.test_client()
    sign_in(other, user)
    assert (
        other.get("/auth/keyring/tab-key", headers=TAB_KEY_HEADERS).get_json()["tab_key"]
        != (data["tab_key"])
    )
    # Only the token's hash is stored.
    with client.session_transaction() as session:
        token = session[SID]
    assert token not in {row.token_hash for row in rows(user)}


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no keyring header: not keyring.js
        {"X-Refuge-Keyring": "1", "Sec-Fetch-Site": "cross-site"},
        {"X-Refuge-Keyring": "1", "Sec-Fetch-Site": "same-site"},
        {"X-Refuge-Keyring": "1", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"},
        {"X-Refuge-Keyring": "yes"},
    ],
)
def test_the_tab_key_is_for_same_origin_script_only(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    sign_in(client, Role.VIEWER)
    response = client.get("/auth/keyring/tab-key", headers=headers)
    assert response.status_code == 403
    assert "tab_key" not in response.get_data(as_text=True)


def test_no_tab_key_without_a_session(client: FlaskClient) -> None:
    response = client.get("/auth/keyring/tab-key", headers=TAB_KEY_HEADERS)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_sign_out_wipes_the_tab_key_and_a_replayed_cookie_gets_none(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.CASEWORKER)
    sign_in(client, user)
    cookie = client.get_cookie("refuge_session")
    assert cookie is not None
    record = record_of(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})
    db.session.refresh(record)
    assert record.revoked_at is not None
    assert record.tab_key is None
    assert (
        db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "auth.logout"))
        is not None
    )
    replay = app.test_client()
    replay.set_cookie("refuge_session", cookie.value, domain=cookie.domain or "localhost")
    response = replay.get("/auth/keyring/tab-key", headers=TAB_KEY_HEADERS)
    assert response.status_code == 302
    assert "tab_key" not in response.get_data(as_text=True)


def test_a_timed_out_session_gives_no_tab_key(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.CASEWORKER)
    sign_in(client, user)
    record = record_of(client)
    record.last_seen_at = utcnow() - timedelta(hours=2)
    db.session.commit()
    assert client.get("/auth/keyring/tab-key", headers=TAB_KEY_HEADERS).status_code == 302
    db.session.refresh(record)
    assert record.tab_key is None


def test_a_new_sign_in_wipes_the_keys_of_sessions_that_timed_out_unseen(app: Flask) -> None:
    """A laptop left signed in and lost: its cookie never comes back, but its tab key must
    not stay in the database either."""
    user = make_user(Role.CASEWORKER)
    lost = app.test_client()
    sign_in(lost, user)
    lost_record = record_of(lost)
    lost_record.last_seen_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    sign_in(app.test_client(), Role.VIEWER)  # anyone signs in
    db.session.refresh(lost_record)
    assert lost_record.tab_key is None
    assert lost_record.revoked_at is not None


def test_a_password_change_ends_every_session_and_starts_a_new_one(app: Flask) -> None:
    from tests.auth.test_setup_and_account import NEW_PASSWORD, browser_keys
    from tests.builders import login_secrets

    app.config["KEY_WRAP_OPS_LIMIT"] = 1
    app.config["KEY_WRAP_MEM_LIMIT"] = 8192
    user, secret = make_staff_with_keys(Role.CASEWORKER, make_org_key())
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, user)
    sign_in(elsewhere, user)
    before = {row.id for row in rows(user)}
    fields, _ = browser_keys(NEW_PASSWORD, secret)
    response = here.post(
        "/auth/password",
        data={
            "csrf_token": csrf_token(here, "/auth/account"),
            "current_auth_secret": login_secrets(user).auth_secret,
            **fields,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    old = [row for row in rows(user) if row.id in before]
    assert all(row.revoked_at is not None and row.tab_key is None for row in old)
    # This browser goes on, in a new session with a new tab key (its keyring must be unlocked
    # again); the other one is out.
    assert record_of(here).id not in before
    assert here.get("/auth/keyring/tab-key", headers=TAB_KEY_HEADERS).status_code == 200
    assert elsewhere.get("/auth/keyring/tab-key", headers=TAB_KEY_HEADERS).status_code == 302


@pytest.mark.parametrize("action", ["reset-password", "reset-totp", "deactivate", "role"])
def test_admin_actions_on_an_account_end_its_sessions(app: Flask, action: str) -> None:
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org)
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, org)
    theirs = app.test_client()
    sign_in(theirs, colleague)
    record = record_of(theirs)
    mine = app.test_client()
    sign_in(mine, admin)
    response = mine.post(
        f"/admin/users/{colleague.id}/{action}",
        data={"csrf_token": csrf_token(mine, "/admin/users"), "role": "viewer", "confirmed": "yes"},
    )
    assert response.status_code in (200, 302)
    db.session.refresh(record)
    assert record.revoked_at is not None
    assert record.tab_key is None
    assert theirs.get("/auth/keyring/tab-key", headers=TAB_KEY_HEADERS).status_code == 302
