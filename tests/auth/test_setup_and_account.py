"""First run (/setup), invite links, change password and the keyring endpoint — through HTTP
with key material made by PyNaCl exactly as the browser makes it."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, KeyGrant, OrgKey, Role, User
from intake.services import accounts, setup_token
from intake.services.passwords import verify_password
from tests.auth.helpers import csrf_token, sign_in_through_forms
from tests.builders import (
    DEFAULT_PASSWORD,
    give_key,
    login_secrets,
    make_org_key,
    make_staff_with_keys,
    make_user,
    sign_in,
    unwrap_staff_secret,
)

NEW_PASSWORD = "a brand new passphrase for this test"


@pytest.fixture(autouse=True)
def cheap_key_wrapping(app: Flask) -> None:
    app.config["KEY_WRAP_OPS_LIMIT"] = 1
    app.config["KEY_WRAP_MEM_LIMIT"] = 8192


def browser_keys(password: str, secret: bytes | None = None) -> tuple[dict[str, Any], bytes]:
    """Form fields as setup.js / login.js fill them (a new salt, the secret wrapped with the
    derived key-wrapping key, the derived authentication secret), plus the raw staff secret.
    The password itself is not among them."""
    if secret is None:
        public, secret = crypto.generate_keypair()
    else:
        public = crypto.public_key_of(secret)
    salt = crypto.new_salt()
    derived = crypto.login_secrets(password, salt, 1, 8192)
    return {
        "public_key": public,
        "wrapped_secret_key": crypto.wrap_with_key(secret, derived.wrapping_key),
        "key_salt": crypto.b64(salt),
        "ops_limit": "1",
        "mem_limit": "8192",
        "auth_secret": derived.auth_secret,
    }, secret


def setup_form(client: FlaskClient, **overrides: str) -> dict[str, Any]:
    """The setup form as the browser posts it, with a fresh one-time token (as printed by
    ``flask setup-token``) in its hidden field."""
    fields, staff_secret = browser_keys(DEFAULT_PASSWORD)
    org_public, org_secret = crypto.generate_keypair()
    token = setup_token.issue()
    form = {
        "csrf_token": csrf_token(client, f"/setup?token={token}"),
        "setup_token": token,
        "email": "first@example.org",
        **fields,
        "org_public_key": org_public,
        "sealed_org_secret": crypto.seal_key_grant(org_secret, fields["public_key"]),
    }
    form.update(overrides)
    return form


def counts() -> tuple[int, int, int]:
    def count(model: Any) -> int:
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)

    return count(User), count(OrgKey), count(KeyGrant)


def test_setup_creates_the_admin_org_key_and_grant_and_then_disappears(
    app: Flask, client: FlaskClient
) -> None:
    form = setup_form(client)
    response = client.post("/setup", data=form)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    org_key = db.session.scalar(sa.select(OrgKey))
    assert org_key is not None
    assert org_key.public_key == form["org_public_key"]
    assert org_key.fingerprint in page
    assert "otpauth://totp/" in page
    admin = db.session.scalar(sa.select(User))
    assert admin is not None
    assert admin.role is Role.ADMIN
    assert admin.totp_secret in page
    # Shown once: no language link that would open another page and lose the secret.
    assert "data-language-later" in page
    assert "Refuge is set up: one step left" in page  # not "set up" before the second factor
    assert '<nav class="language-switch"' not in page
    assert counts() == (1, 1, 1)
    # The first admin made their own account: not "Refuge (automatic)" in the log.
    created = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "account.created"))
    assert created is not None
    assert created.actor_id == admin.id
    # The server stored only what the browser sent: no secret key in the clear anywhere.
    assert admin.wrapped_secret_key == form["wrapped_secret_key"]
    assert (admin.password_scheme, admin.key_scheme) == (2, 2)
    assert verify_password(admin.password_hash, form["auth_secret"])
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", data=setup_form_without_token()).status_code in (400, 404)


def test_setup_opened_again_says_refuge_is_set_up_and_links_to_sign_in(
    app: Flask, client: FlaskClient
) -> None:
    """Still a 404 (the wizard is gone), but the page says why and where to go: the first
    admin opening the console's link again wants to sign in."""
    assert client.post("/setup", data=setup_form(client)).status_code == 200
    for path in ("/setup", "/setup?token=whatever"):
        again = app.test_client().get(path)
        assert again.status_code == 404
        page = again.get_data(as_text=True)
        assert "Refuge is already set up" in page
        assert "This page does not exist" not in page
        assert 'href="/login"' in page
    late = app.test_client()
    posted = late.post(
        "/setup", data={"csrf_token": csrf_token(late, "/login"), "email": "late@example.org"}
    )
    assert posted.status_code == 404
    assert "Refuge is already set up" in posted.get_data(as_text=True)
    assert counts() == (1, 1, 1)
    for lang, text in (("zh_Hant", "Refuge 已經設定好了"), ("zh_Hans", "Refuge 已经设置好了")):
        reader = app.test_client()
        reader.get(f"/login?lang={lang}")
        assert text in reader.get("/setup").get_data(as_text=True)


def setup_form_without_token() -> dict[str, str]:
    return {"email": "second@example.org", "password": DEFAULT_PASSWORD}


@pytest.mark.parametrize(
    "overrides",
    [
        {"public_key": ""},  # JavaScript off: no keys
        {"wrapped_secret_key": "not base64 at all!"},
        {"wrapped_secret_key": crypto.b64(b"x" * 10)},
        {"key_salt": crypto.b64(b"x" * 15)},
        {"ops_limit": "99"},
        {"mem_limit": "-1"},
        {"org_public_key": crypto.b64(b"y" * 31)},
        {"sealed_org_secret": crypto.b64(b"z" * 500)},
        {"sealed_org_secret": "A" * 5000},
        {"public_key": "-_-_" * 11},
        {"email": "x" * 300 + "@example.org"},
        {"email": "<script>alert(1)</script>"},
        {"auth_secret": ""},  # JavaScript off: the password is never posted, nor accepted
        {"auth_secret": "", "password": DEFAULT_PASSWORD, "confirm": DEFAULT_PASSWORD},
        {"auth_secret": crypto.b64(b"a" * 31)},
        {"auth_secret": "p" * 5000},
    ],
)
def test_setup_refuses_hostile_or_incomplete_input_and_writes_nothing(
    app: Flask, client: FlaskClient, overrides: dict[str, str]
) -> None:
    response = client.post("/setup", data=setup_form(client, **overrides))
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    assert counts() == (0, 0, 0)


def test_setup_says_a_refused_address_beside_its_field(app: Flask, client: FlaskClient) -> None:
    """The server's own refusal of the address (without the browser's check) was in the
    summary only: now beside the field, and linked from the summary."""
    response = client.post("/setup", data=setup_form(client, email="admin@localhost"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(r'id="email-error">\s*Enter a valid e-mail address.', page), page
    assert 'href="#email"' in page
    assert counts() == (0, 0, 0)


def test_keyring_returns_wrapped_key_and_sealed_grants_only(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    user, secret = make_staff_with_keys(Role.CASEWORKER, org)
    sign_in(client, user)
    data = client.get("/auth/keyring").get_json()
    assert set(data) == {
        "user_public_key",
        "wrapped_secret_key",
        "key_salt",
        "ops_limit",
        "mem_limit",
        "key_scheme",
        "current_org_key_id",
        "grants",
    }
    assert data["current_org_key_id"] == org.key.id
    [grant] = data["grants"]
    assert grant["org_key_id"] == org.key.id
    assert grant["org_public_key"] == org.public
    assert crypto.unseal(crypto.b64decode_strict(grant["sealed_org_secret"]), secret) == org.secret
    assert crypto.b64(org.secret) not in str(data)
    assert crypto.b64(secret) not in str(data)


def test_change_password_rewraps_the_same_key_and_ends_other_sessions(app: Flask) -> None:
    org = make_org_key()
    user, secret = make_staff_with_keys(Role.CASEWORKER, org)
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, user)
    sign_in(elsewhere, user)
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
    # This tab's key was locked with the old password: the message says how to open it.
    said = here.get(response.headers["Location"]).get_data(as_text=True)
    assert "Unlock your key with the new password" in said
    db.session.refresh(user)
    assert user.key_salt == fields["key_salt"]
    assert unwrap_staff_secret(user, NEW_PASSWORD) == secret
    assert here.get("/cases/").status_code == 200
    assert elsewhere.get("/cases/").status_code == 302
    here.post("/logout", data={"csrf_token": csrf_token(here, "/cases/")})
    assert sign_in_through_forms(app.test_client(), user, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("case", ["wrong_current", "other_public_key", "no_keys", "garbage"])
def test_change_password_refuses_bad_requests_and_changes_nothing(app: Flask, case: str) -> None:
    org = make_org_key()
    user, secret = make_staff_with_keys(Role.CASEWORKER, org)
    before = (user.password_hash, user.wrapped_secret_key, user.key_salt)
    client = app.test_client()
    sign_in(client, user)
    fields, _ = browser_keys(NEW_PASSWORD, secret)
    current = login_secrets(user).auth_secret
    if case == "wrong_current":
        current = login_secrets(user, "this is not my password").auth_secret
    elif case == "other_public_key":
        fields, _ = browser_keys(NEW_PASSWORD)
    elif case == "no_keys":
        fields = {}
    else:
        fields = {key: "\x00<b>" * 60 for key in fields}
    assert change_password(client, current, fields) == 400
    db.session.refresh(user)
    assert (user.password_hash, user.wrapped_secret_key, user.key_salt) == before


def change_password(client: FlaskClient, current: str, fields: dict[str, str]) -> int:
    """The account page's form, posted: the answer's status."""
    return client.post(
        "/auth/password",
        data={
            "csrf_token": csrf_token(client, "/auth/account"),
            "current_auth_secret": current,
            **fields,
        },
    ).status_code


def test_change_password_waits_out_the_lockout_as_sign_in_does(app: Flask) -> None:
    """Wrong current passwords counted as failed sign-ins, but once the account waited, the
    right one was still accepted here (a review: six wrong, then the right one, 302)."""
    org = make_org_key()
    user, secret = make_staff_with_keys(Role.CASEWORKER, org)
    before = (user.password_hash, user.wrapped_secret_key, user.key_salt)
    client = app.test_client()
    sign_in(client, user)
    fields, _ = browser_keys(NEW_PASSWORD, secret)
    wrong = login_secrets(user, "this is not my password").auth_secret
    right = login_secrets(user).auth_secret

    for _ in range(20):
        assert change_password(client, wrong, fields) == 400
        db.session.refresh(user)
        if user.locked_until is not None:
            break
    assert user.locked_until is not None, "wrong passwords never made the account wait"
    assert change_password(client, right, fields) == 400
    db.session.refresh(user)
    assert (user.password_hash, user.wrapped_secret_key, user.key_salt) == before
    refused = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "auth.refused_locked")
    ).all()
    assert {"where": "password_change"} in refused


def enrol_link_token(html: str) -> str:
    match = re.search(r"/auth/enrol/([A-Za-z0-9_.\-]+)", html)
    assert match
    return match.group(1)


def test_invited_colleague_sets_password_and_gets_a_second_factor(
    app: Flask, client: FlaskClient
) -> None:
    colleague = accounts.create_user("new@example.org", Role.CASEWORKER)
    db.session.commit()
    token = accounts.enrol_token(colleague)
    form_page = client.get(f"/auth/enrol/{token}")
    assert form_page.status_code == 200
    assert '<nav class="language-switch"' in form_page.get_data(as_text=True)  # not shown once
    fields, secret = browser_keys(NEW_PASSWORD)
    response = client.post(
        f"/auth/enrol/{token}",
        data={
            "csrf_token": csrf_token(client, f"/auth/enrol/{token}"),
            **fields,
        },
    )
    assert response.status_code == 200
    db.session.refresh(colleague)
    assert colleague.totp_secret
    assert colleague.totp_secret in response.get_data(as_text=True)
    assert "data-language-later" in response.get_data(as_text=True)
    assert colleague.public_key == fields["public_key"]
    # Opened again (reloaded after a wrong code, the address typed): the same set-up, in the
    # language asked for; it was "405 not allowed".
    again = client.get("/auth/totp/confirm?lang=zh_Hant")
    assert again.status_code == 200
    assert colleague.totp_secret in again.get_data(as_text=True)
    assert "確認" in again.get_data(as_text=True)
    assert app.test_client().get("/auth/totp/confirm").status_code == 400  # not set up here
    # Not a second factor until a current code confirms it (tests/auth/test_second_factor.py).
    confirmed = client.post(
        "/auth/totp/confirm",
        data={
            "csrf_token": csrf_token(client, "/login"),
            "code": pyotp.TOTP(colleague.totp_secret).now(),
        },
    )
    assert confirmed.status_code == 200
    # The link works once.
    assert client.get(f"/auth/enrol/{token}").status_code == 404
    next_code = pyotp.TOTP(colleague.totp_secret).at(int(time.time()) + 30)  # not a replay
    signed_in = sign_in_through_forms(app.test_client(), colleague, NEW_PASSWORD, code=next_code)
    assert signed_in.status_code == 302


KEY_MESSAGE = "An admin still has to give you access to the organisation key"


def enrol_after_second_factor_reset(client: FlaskClient, user: User) -> str:
    """The operator's ``users reset-totp`` link, followed with the current password; returns
    the page with the new authenticator app."""
    token = accounts.operator_reset_totp(user.email)
    path = f"/auth/enrol/{token}"
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "current_auth_secret": login_secrets(user).auth_secret,
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def test_the_key_message_is_only_for_someone_without_a_grant_of_the_current_key(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    holder, _ = make_staff_with_keys(Role.ADMIN, org, email="holder@example.org")
    page = enrol_after_second_factor_reset(client, holder)
    assert "data-otpauth-uri" in page
    assert KEY_MESSAGE not in page  # the only admin, who holds the key
    keyless = make_user(email="keyless@example.org")
    assert KEY_MESSAGE in enrol_after_second_factor_reset(app.test_client(), keyless)
    # A grant of a key since retired opens no new case: still waiting for the current one.
    old_holder = give_key(make_user(email="old@example.org"), org)
    org.key.retired_at = utcnow()
    make_org_key()
    assert KEY_MESSAGE in enrol_after_second_factor_reset(app.test_client(), old_holder)


@pytest.mark.parametrize("token", ["garbage", "a" * 600, "eyJ1IjoxLCJlIjowfQ.AAAA.BBBB", "%00"])
def test_forged_or_broken_enrol_links_are_refused(
    app: Flask, client: FlaskClient, token: str
) -> None:
    accounts.create_user("new@example.org", Role.CASEWORKER)
    db.session.commit()
    # NUL bytes are refused before any view runs (400); the rest are unknown links (404).
    assert client.get(f"/auth/enrol/{token}").status_code == (400 if token == "%00" else 404)


def test_enrol_without_browser_keys_writes_nothing(app: Flask, client: FlaskClient) -> None:
    colleague = accounts.create_user("new@example.org", Role.CASEWORKER)
    db.session.commit()
    token = accounts.enrol_token(colleague)
    response = client.post(
        f"/auth/enrol/{token}",
        data={
            "csrf_token": csrf_token(client, f"/auth/enrol/{token}"),
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400
    assert "JavaScript" in response.get_data(as_text=True)
    db.session.refresh(colleague)
    assert colleague.password_hash is None
    assert colleague.totp_secret is None


@pytest.mark.parametrize(
    ("locale", "role", "label"),
    [
        ("zh_Hant", Role.ADMIN, "管理員"),
        ("zh_Hans", Role.CASEWORKER, "个案工作者"),
        ("zh_Hant", Role.VIEWER, "檢視者"),
        ("en", Role.VIEWER, "Viewer"),
    ],
)
def test_the_account_page_names_the_role_as_the_users_page_does(
    app: Flask, client: FlaskClient, locale: str, role: Role, label: str
) -> None:
    user, _ = make_staff_with_keys(role)
    sign_in(client, user)
    html = client.get(f"/auth/account?lang={locale}").get_data(as_text=True)
    shown = re.search(r"</dt><dd[^>]*>([^<]*)</dd>\s*<dt>[^<]*</dt><dd>\d+</dd>", html)
    assert shown, html
    # The reviewer saw the raw value ("admin") on a Chinese page; the users page's names here.
    assert shown.group(1) == label


@pytest.mark.parametrize(
    ("locale", "new", "again"),
    [("en", "New password", "New password again"), ("zh_Hant", "新密碼", "再輸入一次新密碼")],
)
def test_the_new_password_fields_say_they_are_the_new_one(
    app: Flask, client: FlaskClient, locale: str, new: str, again: str
) -> None:
    """Under "Current password", fields labelled just "Password" read as asking for it twice."""
    user, _ = make_staff_with_keys(Role.CASEWORKER)
    sign_in(client, user)
    html = client.get(f"/auth/account?lang={locale}").get_data(as_text=True)
    assert f'<label for="password">{new}</label>' in html
    assert f'<label for="confirm">{again}</label>' in html
