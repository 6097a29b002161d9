"""Signing in through the real forms (CSRF tokens, password, TOTP) for the auth tests."""

from __future__ import annotations

import re

import pyotp
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from intake import crypto
from intake.extensions import db
from intake.models import AuditEvent, Role, User
from intake.services import accounts
from tests.builders import DEFAULT_PASSWORD, login_secrets

_TOKEN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'type="hidden" name="csrf_token" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def csrf_token(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(html)
    assert match, f"no CSRF token on {path}"
    return next(group for group in match.groups() if group)


def derived_auth_secret(
    client: FlaskClient, email: str, password: str, path: str
) -> dict[str, str]:
    """What login.js posts for (email, password): it asks /auth/salt, derives, and adds the
    password itself only for an account from before the split."""
    token = csrf_token(client, path)
    how = client.post("/auth/salt", data={"csrf_token": token, "email": email}).get_json()
    assert how is not None
    derived = crypto.login_secrets(
        password, crypto.b64decode_strict(how["salt"]), how["ops_limit"], how["mem_limit"]
    )
    fields = {"csrf_token": token, "auth_secret": derived.auth_secret}
    if how["upgrade"]:
        fields["legacy_password"] = password
    return fields


def post_password(
    client: FlaskClient, email: str, password: str = DEFAULT_PASSWORD, path: str = "/login"
) -> TestResponse:
    """The sign-in form as the browser posts it: the derived authentication secret."""
    fields = derived_auth_secret(client, email, password, path)
    return client.post(path, data={**fields, "email": email})


def post_code(client: FlaskClient, code: str) -> TestResponse:
    token = csrf_token(client, "/login/code")
    return client.post("/login/code", data={"csrf_token": token, "code": code})


def sign_in_through_forms(
    client: FlaskClient, user: User, password: str = DEFAULT_PASSWORD, code: str | None = None
) -> TestResponse:
    """Password then TOTP through the real forms; returns the second step's response."""
    first = post_password(client, user.email, password)
    assert first.status_code == 302, first.get_data(as_text=True)[:500]
    assert user.totp_secret
    return post_code(client, code or pyotp.TOTP(user.totp_secret).now())


def audit_events(action: str, user: User) -> list[AuditEvent]:
    """The audit events ``action`` recorded about ``user``."""
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.target_id == str(user.id)
            )
        )
    )


def enrol_without_confirming(
    client: FlaskClient, email: str, *, with_keypair: bool = False
) -> tuple[User, str]:
    """An invited caseworker sets a password through the link (as the browser does: only its
    salt and the authentication secret's hash reach the server) and stops on the set-up page,
    its TOTP pending. Returns the account and that page."""
    user = accounts.create_user(email, Role.CASEWORKER)
    token = accounts.enrol_token(user)
    accounts.server_side_credentials(user, DEFAULT_PASSWORD, with_keypair=with_keypair)
    db.session.commit()
    response = client.post(
        f"/auth/enrol/{token}",
        data={
            "csrf_token": csrf_token(client, f"/auth/enrol/{token}"),
            "current_auth_secret": login_secrets(user).auth_secret,
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:300]
    db.session.refresh(user)
    return user, page
