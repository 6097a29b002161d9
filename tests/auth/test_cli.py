"""`flask users create` and `flask keys init` (DESIGN §7)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from nacl.public import PrivateKey, SealedBox

from intake import crypto
from intake.extensions import db
from intake.models import AuditEvent, KeyGrant, OrgKey, User
from intake.services.passwords import verify_password
from tests.builders import DEFAULT_PASSWORD, login_secrets, unwrap_staff_secret


def create(app: Flask, email: str, role: str = "admin", password: str = DEFAULT_PASSWORD) -> Result:
    return app.test_cli_runner().invoke(
        args=["users", "create", email, "--role", role, "--password-stdin"], input=password + "\n"
    )


def init_keys(app: Flask, email: str, password: str = DEFAULT_PASSWORD) -> Result:
    return app.test_cli_runner().invoke(
        args=["keys", "init", "--admin", email, "--password-stdin"], input=password + "\n"
    )


def test_users_create_prints_json_with_an_enrolled_totp_uri(app: Flask) -> None:
    result = create(app, "Casey@Example.org", "caseworker")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["email"] == "casey@example.org"
    assert printed["role"] == "caseworker"
    uri = urlparse(printed["otpauth_uri"])
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    secret = parse_qs(uri.query)["secret"][0]
    user = db.session.scalar(sa.select(User).where(User.email == "casey@example.org"))
    assert user is not None
    assert user.totp_secret == secret
    assert pyotp.TOTP(secret).verify(pyotp.TOTP(user.totp_secret).now())
    # The password is hashed with Argon2id; the staff key is wrapped with it.
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert DEFAULT_PASSWORD not in result.output
    # Not of the password itself: of the authentication secret derived from it, as a browser
    # derives it; the key is wrapped with the other derived key.
    assert not verify_password(user.password_hash, DEFAULT_PASSWORD)
    assert verify_password(user.password_hash, login_secrets(user).auth_secret)
    assert (user.password_scheme, user.key_scheme) == (2, 2)
    secret_key = unwrap_staff_secret(user)
    assert crypto.public_key_of(secret_key) == user.public_key
    assert db.session.scalar(sa.select(AuditEvent.action)) == "account.created"


def test_users_create_refuses_duplicates_bad_roles_and_weak_passwords(app: Flask) -> None:
    assert create(app, "a@example.org").exit_code == 0
    assert create(app, "A@example.org").exit_code == 1
    assert create(app, "b@example.org", role="superuser").exit_code == 2
    assert create(app, "c@example.org", password="short").exit_code == 1
    assert create(app, "not an email").exit_code == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_keys_init_creates_the_org_key_and_a_grant_the_admin_can_open(app: Flask) -> None:
    assert create(app, "admin@example.org").exit_code == 0
    result = init_keys(app, "admin@example.org")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    org_key = db.session.get(OrgKey, printed["org_key_id"])
    assert org_key is not None
    assert printed["fingerprint"] == org_key.fingerprint == crypto.fingerprint(org_key.public_key)
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@example.org"))
    assert admin is not None
    grant = db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == admin.id))
    assert grant is not None
    staff_secret = unwrap_staff_secret(admin)
    org_secret = SealedBox(PrivateKey(staff_secret)).decrypt(
        crypto.b64decode_strict(grant.sealed_org_secret)
    )
    assert crypto.public_key_of(bytes(org_secret)) == org_key.public_key
    # A second run does not replace the key (cases are sealed to it).
    again = init_keys(app, "admin@example.org")
    assert again.exit_code == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OrgKey)) == 1


def test_keys_init_needs_an_admin_and_their_password(app: Flask) -> None:
    assert create(app, "casey@example.org", "caseworker").exit_code == 0
    assert create(app, "admin@example.org").exit_code == 0
    assert init_keys(app, "casey@example.org").exit_code == 1
    assert init_keys(app, "nobody@example.org").exit_code == 1
    assert init_keys(app, "admin@example.org", "wrong password here").exit_code == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OrgKey)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KeyGrant)) == 0


def test_wrapping_matches_the_documented_scheme() -> None:
    """nonce[24] || secretbox(secret) under crypto_pwhash Argon2id: the layout the browser uses."""
    public, secret = crypto.generate_keypair()
    wrapped = crypto.wrap_secret_key(secret, "pässwörd ✓", ops_limit=1, mem_limit=8192)
    raw = crypto.b64decode_strict(wrapped.wrapped)
    assert len(raw) == crypto.WRAPPED_KEY_BYTES
    assert len(crypto.b64decode_strict(wrapped.salt)) == 16
    assert crypto.unwrap_secret_key(wrapped, "pässwörd ✓") == secret
    assert crypto.public_key_of(secret) == public


def test_cli_help_says_that_these_commands_see_the_password(app: Flask) -> None:
    runner = app.test_cli_runner()
    for args in (["users", "create", "--help"], ["keys", "init", "--help"]):
        assert "SEES THE PASSWORD" in runner.invoke(args=args).output


def test_operator_reset_password_prints_a_link_that_restores_access_not_the_key(
    app: Flask,
) -> None:
    assert create(app, "admin@example.org").exit_code == 0
    assert init_keys(app, "admin@example.org").exit_code == 0
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "reset-password", "Admin@example.org"])
    assert result.exit_code == 0, result.output
    link = json.loads(result.output)["link"]
    assert "/auth/enrol/" in link
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@example.org"))
    assert admin is not None
    db.session.refresh(admin)
    # Access: a fresh enrolment. Not the key: it went with the password; the grant sealed to it
    # is revoked (the recovery kit or a colleague gives the organisation key back).
    assert admin.password_hash is None
    assert admin.public_key is None
    assert admin.totp_secret is None
    assert db.session.scalar(sa.select(KeyGrant.revoked_at)) is not None
    client = app.test_client()
    assert client.get(urlparse(link).path).status_code == 200
    assert "operator.password_reset" in db.session.scalars(sa.select(AuditEvent.action)).all()
    missing = runner.invoke(args=["users", "reset-password", "nobody@example.org"])
    assert missing.exit_code == 1


def test_operator_resets_link_to_the_port_the_instance_serves(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator runs `flask users reset-password` in another shell, with no PORT, while
    `make run` serves on 5600: the link went to 127.0.0.1:5000, refused, on the lockout path
    (a review). It goes where the web process recorded it serves, as e-mail links do."""
    from config.address import record_address

    app.config["PUBLIC_BASE_URL"] = None
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("BIND_HOST", raising=False)
    record_address(Path(app.instance_path), {"PORT": "5600"})  # the web process, at start
    monkeypatch.delenv("PORT", raising=False)
    assert create(app, "admin@example.org").exit_code == 0
    runner = app.test_cli_runner()
    for command in ("reset-password", "reset-totp"):
        result = runner.invoke(args=["users", command, "admin@example.org"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["link"].startswith("http://localhost:5600/auth/enrol/")


def test_operator_reset_totp_keeps_the_password_and_key(app: Flask) -> None:
    assert create(app, "admin@example.org").exit_code == 0
    result = app.test_cli_runner().invoke(args=["users", "reset-totp", "admin@example.org"])
    assert result.exit_code == 0, result.output
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@example.org"))
    assert admin is not None
    db.session.refresh(admin)
    assert admin.totp_secret is None
    assert admin.password_hash is not None
    assert admin.public_key is not None
    client = app.test_client()
    page = client.get(urlparse(json.loads(result.output)["link"]).path)
    assert page.status_code == 200
    assert "data-proof-form" in page.get_data(as_text=True)
