"""A lost or new phone: a signed-in holder replaces their authenticator app from the account
page, after proving their password again; the old app works until a code from the new one is
confirmed, then stops."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import Role, User
from intake.services import accounts, second_factor
from tests.auth.helpers import (
    audit_events,
    csrf_token,
    derived_auth_secret,
    post_code,
    post_password,
)
from tests.builders import DEFAULT_PASSWORD, make_user, sign_in


@pytest.fixture(autouse=True)
def cheap_key_wrapping(app: Flask) -> None:
    app.config["KEY_WRAP_OPS_LIMIT"] = 1
    app.config["KEY_WRAP_MEM_LIMIT"] = 8192


# --- replacing the authenticator app (a lost or new phone) ----------------------------------


def _start_replacement(client: FlaskClient, user: User, password: str = DEFAULT_PASSWORD) -> Any:
    fields = derived_auth_secret(client, user.email, password, "/auth/account")
    return client.post(
        "/auth/totp/replace",
        data={"csrf_token": fields["csrf_token"], "current_auth_secret": fields["auth_secret"]},
    )


def _shown(page: str, attribute: str) -> str:
    match = re.search(rf"<[^>]*{attribute}[^>]*>([^<]+)<", page)
    assert match, attribute
    return match.group(1).strip()


def _token(page: str) -> str:
    match = re.search(r'name="token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="token"', page)
    assert match
    return next(group for group in match.groups() if group)


def _confirm_replacement(client: FlaskClient, token: str, code: str) -> Any:
    return client.post(
        "/auth/totp/replace/confirm",
        data={"csrf_token": csrf_token(client, "/auth/account"), "token": token, "code": code},
    )


def _code_at_next_step(secret: str) -> str:
    return pyotp.TOTP(secret).at(int(time.time()) + 30)


def test_the_account_page_offers_to_replace_even_the_only_authenticator_app(
    app: Flask, client: FlaskClient
) -> None:
    sign_in(client, make_user(Role.ADMIN))
    page = client.get("/auth/account").get_data(as_text=True)
    assert "data-replace-totp" in page
    assert "Replace my authenticator app" in page


def test_a_new_app_replaces_the_lost_one_only_once_its_code_is_confirmed(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.ADMIN, email="lost@example.org")
    old_secret = user.totp_secret or ""
    kept_codes = second_factor.regenerate_recovery_codes(user)
    sign_in(client, user)
    elsewhere = app.test_client()
    sign_in(elsewhere, user)
    started = _start_replacement(client, user)
    assert started.status_code == 200
    page = started.get_data(as_text=True)
    new_secret = _shown(page, "data-totp-secret")
    assert new_secret != old_secret
    assert "data-otpauth-uri" in page
    # Not yet: the old app still signs in, the new one does not.
    db.session.refresh(user)
    assert user.totp_secret == old_secret
    probe = app.test_client()
    assert post_password(probe, user.email).status_code == 302
    assert post_code(probe, pyotp.TOTP(new_secret).now()).status_code == 401
    wrong = "000000" if pyotp.TOTP(new_secret).now() != "000000" else "111111"
    refused = _confirm_replacement(client, _token(page), wrong)
    assert refused.status_code == 400
    assert "The code is not correct" in refused.get_data(as_text=True)
    db.session.refresh(user)
    assert user.totp_secret == old_secret

    done = _confirm_replacement(client, _token(page), _code_at_next_step(new_secret))
    assert done.status_code == 303
    assert done.headers["Location"].startswith("/auth/account")
    db.session.refresh(user)
    assert user.totp_secret == new_secret
    assert user.totp_confirmed_at is not None
    events = audit_events("auth.totp_replaced", user)
    assert len(events) == 1
    assert events[0].detail == {"new_recovery_codes": False}
    # The lost phone's codes no longer sign in; the new app's do; the paper codes still work.
    later = app.test_client()
    assert post_password(later, user.email).status_code == 302
    assert post_code(later, pyotp.TOTP(old_secret).now()).status_code == 401
    assert second_factor.recovery_codes_left(user) == 10
    assert post_code(later, kept_codes[0]).status_code == 302
    # Other sessions (perhaps the lost phone's) end; this one goes on.
    assert elsewhere.get("/auth/account").status_code == 302
    account = client.get("/auth/account")
    assert account.status_code == 200
    assert "codes from the old one no longer work" in account.get_data(as_text=True)
    # The confirmation is used up: the same page cannot set the secret again.
    again = _confirm_replacement(client, _token(page), _code_at_next_step(new_secret))
    assert again.status_code == 303
    assert len(audit_events("auth.totp_replaced", user)) == 1


def test_replacing_asks_for_the_password_and_counts_a_wrong_one(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.CASEWORKER)
    old_secret = user.totp_secret
    sign_in(client, user)
    response = _start_replacement(client, user, "not my password at all")
    assert response.status_code == 303
    assert "data-totp-secret" not in response.get_data(as_text=True)
    assert "The password is not correct." in client.get("/auth/account").get_data(as_text=True)
    failed = audit_events("auth.failed", user)
    assert failed
    assert failed[-1].detail is not None
    assert failed[-1].detail["reason"] == "totp_replace"
    missing = client.post(
        "/auth/totp/replace", data={"csrf_token": csrf_token(client, "/auth/account")}
    )
    assert missing.status_code == 303
    no_csrf = client.post("/auth/totp/replace", data={"current_auth_secret": "x"})
    assert no_csrf.status_code == 400
    db.session.refresh(user)
    assert user.totp_secret == old_secret


def test_a_replacement_token_works_only_for_its_account_and_session_epoch(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.CASEWORKER)
    sign_in(client, user)
    page = _start_replacement(client, user).get_data(as_text=True)
    token, secret = _token(page), _shown(page, "data-totp-secret")
    other = make_user(Role.CASEWORKER)
    other_client = app.test_client()
    sign_in(other_client, other)
    stolen = _confirm_replacement(other_client, token, _code_at_next_step(secret))
    assert stolen.status_code == 303
    db.session.refresh(other)
    assert other.totp_secret != secret
    forged = _confirm_replacement(client, token[:-4] + "AAAA", _code_at_next_step(secret))
    assert forged.status_code == 303
    accounts.logout_everywhere(user)  # the epoch moves on: the token dies with it
    sign_in(client, user)
    late = _confirm_replacement(client, token, _code_at_next_step(secret))
    assert late.status_code == 303
    db.session.refresh(user)
    assert user.totp_secret != secret
    assert not audit_events("auth.totp_replaced", user)


def test_with_no_recovery_codes_left_a_replacement_shows_ten_new_ones(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.ADMIN)
    assert second_factor.recovery_codes_left(user) == 0
    sign_in(client, user)
    page = _start_replacement(client, user).get_data(as_text=True)
    done = _confirm_replacement(
        client, _token(page), _code_at_next_step(_shown(page, "data-totp-secret"))
    )
    assert done.status_code == 200
    shown = done.get_data(as_text=True)
    assert shown.count("data-recovery-code>") == 10
    assert "data-totp-replaced" in shown
    assert second_factor.recovery_codes_left(user) == 10
    assert audit_events("auth.totp_replaced", user)[0].detail == {"new_recovery_codes": True}


def test_the_replacement_reads_in_traditional_chinese(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.ADMIN, email="zh@example.org")
    sign_in(client, user)
    client.get("/auth/account?lang=zh_Hant")
    account = client.get("/auth/account").get_data(as_text=True)
    assert "更換我的驗證器應用程式" in account
    page = _start_replacement(client, user).get_data(as_text=True)
    assert "更換你的驗證器應用程式" in page
