"""A sign-in with a one-time recovery code (the phone lost or stolen) says so on the page it
lands on: the codes left, the way to a new authenticator app, and that a stolen phone's app
keeps working until a new one is confirmed. It went straight on to the cases (a review)."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import Role
from intake.services import second_factor
from tests.auth.helpers import csrf_token, derived_auth_secret, post_code, post_password
from tests.builders import DEFAULT_PASSWORD, make_staff_with_keys, make_user
from tests.conftest import Untranslated


@pytest.fixture(autouse=True)
def cheap_key_wrapping(app: Flask) -> None:
    app.config["KEY_WRAP_OPS_LIMIT"] = 1
    app.config["KEY_WRAP_MEM_LIMIT"] = 8192


def test_a_recovery_code_sign_in_says_so_with_the_codes_left_and_the_way_to_a_new_app(
    app: Flask, client: FlaskClient
) -> None:
    user, _secret = make_staff_with_keys(Role.CASEWORKER)
    codes = second_factor.regenerate_recovery_codes(user)
    assert post_password(client, user.email).status_code == 302
    signed_in = post_code(client, codes[0])
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"].startswith("/auth/unlock")
    page = client.get(signed_in.headers["Location"]).get_data(as_text=True)
    assert 'data-recovery-code-used data-codes-left="9"' in page
    text = " ".join(re.sub(r"<[^>]+>", "", page).split())
    assert "You signed in with a recovery code. 9 recovery codes are left." in text
    assert 'href="/auth/account#replace-totp-heading" data-replace-app-link' in page
    assert "the codes of the app on it keep working until you confirm a new app" in page
    # The notice leads the page: before the unlock form.
    assert page.index("data-recovery-code-used") < page.index("unlock-page-form")
    # Said again on a reload, not only once.
    assert "data-recovery-code-used" in client.get("/auth/unlock").get_data(as_text=True)


def test_a_sign_in_with_the_app_says_nothing_of_recovery_codes(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.CASEWORKER)
    second_factor.regenerate_recovery_codes(user)
    assert post_password(client, user.email).status_code == 302
    signed_in = post_code(client, pyotp.TOTP(user.totp_secret or "").now())
    assert signed_in.status_code == 302
    assert "data-recovery-code-used" not in client.get("/auth/unlock").get_data(as_text=True)


def test_few_codes_left_says_to_make_new_ones(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.CASEWORKER)
    codes = second_factor.regenerate_recovery_codes(user)
    for code in codes[:8]:
        second_factor._use_recovery_code(user, code)  # noqa: SLF001 — spent on other days
    assert post_password(client, user.email).status_code == 302
    assert post_code(client, codes[9]).status_code == 302
    page = client.get("/auth/unlock").get_data(as_text=True)
    assert "1 recovery code is left." in page
    assert "make new recovery codes on your account page" in page


def test_a_new_app_ends_the_notice(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.CASEWORKER)
    codes = second_factor.regenerate_recovery_codes(user)
    assert post_password(client, user.email).status_code == 302
    assert post_code(client, codes[0]).status_code == 302
    assert "data-recovery-code-used" in client.get("/auth/unlock").get_data(as_text=True)
    fields = derived_auth_secret(client, user.email, DEFAULT_PASSWORD, "/auth/account")
    started = client.post(
        "/auth/totp/replace",
        data={"csrf_token": fields["csrf_token"], "current_auth_secret": fields["auth_secret"]},
    ).get_data(as_text=True)
    secret = re.search(r"data-totp-secret[^>]*>([^<]+)<", started)
    token = re.search(r'name="token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="token"', started)
    assert secret
    assert token
    done = client.post(
        "/auth/totp/replace/confirm",
        data={
            "csrf_token": csrf_token(client, "/auth/account"),
            "token": next(group for group in token.groups() if group),
            "code": pyotp.TOTP(secret.group(1).strip()).at(int(time.time()) + 30),
        },
    )
    assert done.status_code == 303
    assert "data-recovery-code-used" not in client.get("/auth/unlock").get_data(as_text=True)


def test_an_account_with_passkeys_only_is_sent_to_its_second_factors(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.CASEWORKER)
    codes = second_factor.regenerate_recovery_codes(user)
    assert post_password(client, user.email).status_code == 302
    assert post_code(client, codes[0]).status_code == 302
    # The app was removed meanwhile (passkeys only): "replace the app" would be wrong.
    user.totp_secret = None
    user.totp_confirmed_at = None
    db.session.commit()
    page = client.get("/auth/unlock").get_data(as_text=True)
    assert "Lost your passkey or security key?" in page
    assert 'href="/auth/account#factors-heading"' in page


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_the_notice_is_translated(
    app: Flask, client: FlaskClient, untranslated: Untranslated, locale: str
) -> None:
    user = make_user(Role.CASEWORKER)
    codes = second_factor.regenerate_recovery_codes(user)
    client.get(f"/login?lang={locale}")
    assert post_password(client, user.email).status_code == 302
    assert post_code(client, codes[0]).status_code == 302
    untranslated.clear()
    page = client.get("/auth/unlock").get_data(as_text=True)
    assert ("還剩 9 組復原碼。" if locale == "zh_Hant" else "还剩 9 组恢复码。") in page
    assert not untranslated.messages, sorted(untranslated.messages)
