"""An account set up and left before its authenticator app was confirmed (the first admin at
/setup, a colleague through the invite link): after the right password, in the browser where it
was set, its holder sets up a new app and is signed in, with no operator needed. From another
browser the password alone is not enough. A password alone never passes a confirmed factor,
and an account that has signed in before still needs the reset's link."""

from __future__ import annotations

import html
import time
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.admin import audit_view
from intake.auth import devices
from intake.db import utcnow
from intake.extensions import db
from intake.models import Passkey, Role, User
from intake.services import accounts, second_factor
from intake.services.errors import ServiceError
from tests.auth.helpers import (
    audit_events,
    csrf_token,
    derived_auth_secret,
    enrol_without_confirming,
    post_code,
    post_password,
)
from tests.auth.test_setup_and_account import KEY_MESSAGE, setup_form
from tests.builders import (
    DEFAULT_PASSWORD,
    make_org_key,
    make_user,
)

FIRST_ADMIN = "first@example.org"


@pytest.fixture(autouse=True)
def cheap_key_wrapping(app: Flask) -> None:
    app.config["KEY_WRAP_OPS_LIMIT"] = 1
    app.config["KEY_WRAP_MEM_LIMIT"] = 8192


def _text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _first_admin_left_the_setup_page(client: FlaskClient) -> tuple[User, str]:
    """/setup done, the second-factor page left before "Confirm"; returns the admin and the
    secret that page showed."""
    assert client.post("/setup", data=setup_form(client)).status_code == 200
    admin = accounts.find_by_email(FIRST_ADMIN)
    assert admin is not None
    assert admin.totp_secret
    assert admin.totp_confirmed_at is None
    return admin, admin.totp_secret


def _proof(client: FlaskClient, path: str) -> dict[str, str]:
    return derived_auth_secret(client, FIRST_ADMIN, DEFAULT_PASSWORD, path)


def _confirm(client: FlaskClient, code: str) -> Any:
    return client.post(
        "/auth/totp/confirm", data={"csrf_token": csrf_token(client, "/login"), "code": code}
    )


def _same_browser(app: Flask, client: FlaskClient) -> FlaskClient:
    """A new window of the browser ``client`` set the password in: a session of its own, the
    cookie that marks where the password was set."""
    marker = client.get_cookie(devices.ENROLMENT_COOKIE)
    assert marker is not None
    browser = app.test_client()
    browser.set_cookie(devices.ENROLMENT_COOKIE, marker.value)
    return browser


def _wrong_code(secret: str) -> str:
    return "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"


# --- the first admin who left the set-up page ------------------------------------------------


def test_a_first_admin_who_left_setup_sets_up_a_new_app_after_the_password_and_is_signed_in(
    app: Flask, client: FlaskClient
) -> None:
    admin, shown_at_setup = _first_admin_left_the_setup_page(client)
    browser = _same_browser(app, client)
    response = browser.post(
        "/login?next=/cases/", data={"email": FIRST_ADMIN, **_proof(browser, "/login?next=/cases/")}
    )
    page = _text(response)
    assert response.status_code == 200, page[:400]
    assert "data-enrolment-resumed" in page
    assert "Finish setting up your second factor" in page
    assert "reset-totp" not in page
    db.session.refresh(admin)
    secret = admin.totp_secret
    assert secret
    assert secret != shown_at_setup  # a fresh secret: the one shown before no longer works
    assert f"secret={secret}" in page
    assert admin.totp_confirmed_at is None
    # The set-up page left open elsewhere cannot confirm any more (its epoch is gone).
    assert _confirm(client, pyotp.TOTP(shown_at_setup).now()).status_code == 400
    # Not signed in before the code is confirmed.
    assert browser.get("/auth/unlock").status_code == 302
    assert _confirm(browser, _wrong_code(secret)).status_code == 400
    confirmed = _confirm(browser, pyotp.TOTP(secret).now())
    codes_page = _text(confirmed)
    assert confirmed.status_code == 200
    assert codes_page.count("data-recovery-code>") == 10
    assert 'href="/auth/unlock?next=/cases/" data-codes-kept' in codes_page
    assert "I have kept them: continue" in codes_page
    # Signed in: the unlock page opens; a trusted-device cookie was set, as after /login/code.
    assert browser.get("/auth/unlock?next=/cases/").status_code == 200
    assert "refuge_device" in confirmed.headers.get("Set-Cookie", "")
    db.session.refresh(admin)
    assert second_factor.has_confirmed_totp(admin)
    assert admin.last_login_at is not None
    # Audited as the invite link's enrolment, the confirmation and a sign-in are.
    enrolled = audit_events("account.enrolled", admin)
    assert [event.detail for event in enrolled] == [{"via": "sign_in"}]
    # ... in words that say what happened: no invitation was accepted (a review).
    assert audit_view.action_label("account.enrolled", enrolled[0].detail) == (
        "Authenticator app set up again at sign-in"
    )
    assert audit_view.action_label("account.enrolled", None) == "Invitation accepted, password set"
    assert audit_events("auth.totp_confirmed", admin)
    assert len(audit_events("auth.login", admin)) == 1
    assert not audit_events("auth.refused_no_second_factor", admin)


def test_once_confirmed_the_first_admin_signs_in_with_password_and_code_as_anyone(
    app: Flask, client: FlaskClient
) -> None:
    admin, _ = _first_admin_left_the_setup_page(client)
    browser = _same_browser(app, client)
    assert post_password(browser, FIRST_ADMIN).status_code == 200
    db.session.refresh(admin)
    assert admin.totp_secret
    previous_step = pyotp.TOTP(admin.totp_secret).at(int(time.time()) - 30)
    assert _confirm(browser, previous_step).status_code == 200
    # A new browser: the password now leads to the code step, never to a new enrolment.
    other = app.test_client()
    assert post_password(other, FIRST_ADMIN).status_code == 302
    assert post_code(other, pyotp.TOTP(admin.totp_secret).now()).status_code == 302
    assert len(audit_events("account.enrolled", admin)) == 1


def test_an_invitee_who_left_before_confirming_resumes_and_is_told_they_wait_for_the_key(
    app: Flask, client: FlaskClient
) -> None:
    make_org_key()
    link_browser = app.test_client()
    hasty, _ = enrol_without_confirming(link_browser, "hasty@example.org")
    client = _same_browser(app, link_browser)
    response = post_password(client, hasty.email)
    page = _text(response)
    assert response.status_code == 200
    assert "data-enrolment-resumed" in page
    assert KEY_MESSAGE in page  # no grant yet: true for them
    db.session.refresh(hasty)
    assert hasty.totp_secret
    assert _confirm(client, pyotp.TOTP(hasty.totp_secret).now()).status_code == 200
    assert client.get("/auth/unlock").status_code == 200


def test_the_resumed_enrolment_reads_in_both_chinese_scripts(
    app: Flask, client: FlaskClient
) -> None:
    _first_admin_left_the_setup_page(client)
    for lang, heading in (
        ("zh_Hant", "完成設定你的第二驗證因素"),
        ("zh_Hans", "完成设置你的第二验证因素"),
    ):
        # The marker is set again with each new app: the browser keeps the latest.
        browser = client = _same_browser(app, client)
        browser.get(f"/login?lang={lang}")
        page = _text(post_password(browser, FIRST_ADMIN))
        assert heading in page
        assert "Finish setting up" not in page


# --- what a password alone must never do -----------------------------------------------------


@pytest.mark.parametrize("who", ["first_admin", "invitee"])
def test_from_another_browser_the_password_alone_sets_up_nothing(
    app: Flask, client: FlaskClient, who: str
) -> None:
    """Whoever learns the password of an account never finished (the first admin's holds the
    organisation key) must not give it a second factor of their own (a security review)."""
    if who == "first_admin":
        user, shown = _first_admin_left_the_setup_page(client)
    else:
        make_org_key()
        user, _ = enrol_without_confirming(client, "hasty@example.org")
        shown = user.totp_secret or ""
    elsewhere = app.test_client()
    response = post_password(elsewhere, user.email)
    page = _text(response)
    assert response.status_code == 401
    assert "data-enrolment-resumed" not in page
    assert "secret=" not in page
    assert "Or sign in from the browser where you set your password" in page
    assert "reset-totp" in page or "Staff accounts page" in page
    db.session.refresh(user)
    assert user.totp_secret == shown  # nothing new issued
    assert not audit_events("account.enrolled", user) or who == "invitee"
    refused = audit_events("auth.refused_no_second_factor", user)
    assert [event.detail for event in refused] == [{"enrolment": "another_browser"}]
    assert elsewhere.get("/auth/unlock").status_code == 302  # not signed in
    # A forged or another account's marker does not count either.
    elsewhere.set_cookie(devices.ENROLMENT_COOKIE, "forged.value.here")
    assert post_password(elsewhere, user.email).status_code == 401


def test_a_confirmed_authenticator_app_is_still_asked_for_after_the_password(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.ADMIN, email="confirmed@example.org")
    secret = user.totp_secret
    response = post_password(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login/code")
    assert client.get("/auth/unlock").status_code == 302  # not signed in
    # No enrolment can be confirmed from this browser, and nothing about the factor changed.
    assert _confirm(client, pyotp.TOTP(secret or "").now()).status_code == 400
    db.session.refresh(user)
    assert user.totp_secret == secret
    assert user.totp_confirmed_at is not None
    assert not audit_events("account.enrolled", user)
    with pytest.raises(ServiceError):
        second_factor.restart_enrolment(user)


def test_a_passkey_is_still_asked_for_even_with_an_unconfirmed_app_pending(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(email="passkey@example.org")
    user.totp_confirmed_at = None  # an app never confirmed, but a passkey in use
    db.session.add(Passkey(user_id=user.id, name="key", credential_id="Y3JlZA", public_key="cHVi"))
    db.session.commit()
    assert not second_factor.enrolment_unfinished(user)
    response = post_password(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login/code")
    assert not audit_events("account.enrolled", user)


def test_an_account_that_signed_in_before_still_needs_the_resets_link(
    app: Flask, client: FlaskClient
) -> None:
    """Its app was reset and the link used, but no code confirmed: the password alone does not
    set a new app (the reset's link, with the password, does)."""
    make_user(Role.ADMIN, email="admin@example.org")
    user, _ = enrol_without_confirming(app.test_client(), "returning@example.org")
    user.last_login_at = utcnow()
    db.session.commit()
    secret = user.totp_secret
    response = post_password(client, user.email)
    assert response.status_code == 401
    said = _text(response)
    assert "second factor was never confirmed" in said
    assert "Ask an admin of your organisation to reset your second factor" in said
    db.session.refresh(user)
    assert user.totp_secret == secret
    assert audit_events("auth.refused_no_second_factor", user)
    assert not [e for e in audit_events("account.enrolled", user) if e.detail]


def test_a_wrong_password_on_an_unfinished_account_sets_up_nothing(
    app: Flask, client: FlaskClient
) -> None:
    admin, shown = _first_admin_left_the_setup_page(client)
    response = post_password(app.test_client(), FIRST_ADMIN, "not the password at all")
    assert response.status_code == 401
    said = _text(response)
    assert "The e-mail address or the password is not correct." in said
    assert "data-otpauth-uri" not in said
    db.session.refresh(admin)
    assert admin.totp_secret == shown
    assert not audit_events("account.enrolled", admin)


def test_an_unfinished_account_that_is_waiting_or_inactive_is_not_set_up_again(
    app: Flask, client: FlaskClient
) -> None:
    admin, shown = _first_admin_left_the_setup_page(client)
    for _ in range(6):
        post_password(app.test_client(), FIRST_ADMIN, "a wrong password, again and again")
    locked = post_password(app.test_client(), FIRST_ADMIN)
    assert locked.status_code == 401
    assert "data-otpauth-uri" not in _text(locked)
    admin.locked_until = None
    admin.failed_logins = 0
    admin.is_active_account = False
    db.session.commit()
    inactive = post_password(app.test_client(), FIRST_ADMIN)
    assert inactive.status_code == 401
    assert "not active" in _text(inactive)
    db.session.refresh(admin)
    assert admin.totp_secret == shown
    assert not audit_events("account.enrolled", admin)
