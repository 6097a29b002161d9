"""A second factor that was never confirmed (the set-up page left before "Confirm"): the set-up
pages lead on only through confirming, sign-in says what happened and who can help (only after
the right password), and the admin pages show the state."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import Role
from intake.services import accounts
from tests.auth.helpers import audit_events, enrol_without_confirming, post_password
from tests.auth.test_setup_and_account import setup_form
from tests.builders import make_org_key, make_user, sign_in


@pytest.fixture(autouse=True)
def cheap_key_wrapping(app: Flask) -> None:
    app.config["KEY_WRAP_OPS_LIMIT"] = 1
    app.config["KEY_WRAP_MEM_LIMIT"] = 8192


def _enrol_without_confirming(client: FlaskClient, email: str = "hasty@example.org") -> str:
    """An invited colleague sets their password through the link; returns the set-up page."""
    return enrol_without_confirming(client, email, with_keypair=True)[1]


def _signed_in_before(email: str) -> None:
    """The account had signed in before its second factor was reset and the reset's link used
    without confirming: the password alone does not set up a new app
    (test_unfinished_enrolment.py has the account that never signed in)."""
    user = accounts.find_by_email(email)
    assert user is not None
    user.last_login_at = utcnow()
    db.session.commit()


def _sign_in_links(page: str) -> list[str]:
    return re.findall(r'<a class="button" href="/login"', page)


def _message(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- a second factor never confirmed ---------------------------------------------------------


def test_the_setup_and_enrol_pages_lead_on_only_through_confirming_the_code(
    app: Flask, client: FlaskClient
) -> None:
    setup_page = client.post("/setup", data=setup_form(client)).get_data(as_text=True)
    assert "data-otpauth-uri" in setup_page
    assert not _sign_in_links(setup_page)
    assert "data-confirm-first" in setup_page
    enrol_page = _enrol_without_confirming(app.test_client())
    assert not _sign_in_links(enrol_page)
    assert "data-confirm-first" in enrol_page


def test_a_colleague_who_skipped_confirming_is_told_to_ask_an_admin_not_that_it_is_off(
    app: Flask, client: FlaskClient
) -> None:
    make_user(Role.ADMIN, email="admin@example.org")
    _enrol_without_confirming(app.test_client())
    _signed_in_before("hasty@example.org")
    hasty = accounts.find_by_email("hasty@example.org")
    assert hasty is not None
    response = post_password(client, "hasty@example.org")
    assert response.status_code == 401
    said = _message(response)
    assert "not active" not in said
    assert "second factor was never confirmed" in said
    assert "Ask an admin of your organisation to reset your second factor" in said
    assert "reset-totp" not in said
    assert audit_events("auth.refused_no_second_factor", hasty)
    assert not audit_events("auth.refused_inactive", hasty)


def test_a_sole_admin_who_skipped_confirming_is_given_the_operator_command(
    app: Flask, client: FlaskClient
) -> None:
    client.post("/setup", data=setup_form(client))
    _signed_in_before("first@example.org")
    response = post_password(app.test_client(), "first@example.org")
    assert response.status_code == 401
    said = _message(response)
    assert "second factor was never confirmed" in said
    assert "flask --app intake users reset-totp first@example.org" in said


def test_the_unconfirmed_state_is_told_only_to_whoever_knows_the_password(
    app: Flask, client: FlaskClient
) -> None:
    _enrol_without_confirming(app.test_client())
    wrong = post_password(client, "hasty@example.org", "not the password at all")
    unknown = post_password(app.test_client(), "nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        said = _message(response)
        assert "never confirmed" not in said
        assert "The e-mail address or the password is not correct." in said


def test_the_admin_pages_show_who_has_no_second_factor_to_sign_in_with(
    app: Flask, client: FlaskClient
) -> None:
    admin = make_user(Role.ADMIN, email="admin@example.org")
    make_org_key()
    _enrol_without_confirming(app.test_client())
    hasty = accounts.find_by_email("hasty@example.org")
    assert hasty is not None
    sign_in(client, admin)
    users = client.get("/admin/users").get_data(as_text=True)
    row = users.split(f'data-user-row="{hasty.id}"')[1].split("</tr>")[0]
    assert 'data-state="factor-unconfirmed"' in row
    assert "Second factor not set up — reset it to send a new link" in row
    assert "Waiting for the organisation key" not in row
    keys_page = client.get("/admin/keys").get_data(as_text=True)
    assert "data-cannot-sign-in" in keys_page


def test_the_second_step_says_what_to_do_without_recovery_codes(
    app: Flask, client: FlaskClient
) -> None:
    admin = make_user(Role.ADMIN, email="only@example.org")
    assert post_password(client, admin.email).status_code == 302
    page = html.unescape(client.get("/login/code").get_data(as_text=True))
    assert "data-no-codes-help" in page
    assert "flask --app intake users reset-totp only@example.org" in page
    colleague = make_user(Role.CASEWORKER, email="cw@example.org")
    other = app.test_client()
    assert post_password(other, colleague.email).status_code == 302
    page = html.unescape(other.get("/login/code").get_data(as_text=True))
    assert "Ask an admin of your organisation to reset your second factor" in page
    assert "reset-totp" not in page


def test_the_new_help_reads_in_traditional_chinese(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.ADMIN, email="zh@example.org")
    assert post_password(client, user.email).status_code == 302
    client.get("/login/code?lang=zh_Hant")
    assert "重設你的第二驗證因素" in client.get("/login/code").get_data(as_text=True)
    _enrol_without_confirming(app.test_client())
    _signed_in_before("hasty@example.org")
    hasty = app.test_client()
    hasty.get("/login?lang=zh_Hant")
    said = _message(post_password(hasty, "hasty@example.org"))
    assert "從未確認" in said
