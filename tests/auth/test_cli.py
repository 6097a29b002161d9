"""`flask users create` and `flask keys init` (DESIGN §7)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pyotp
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from nacl.public import PrivateKey, SealedBox

from intake import crypto
from intake.extensions import db
from intake.models import AuditEvent, KeyGrant, OrgKey, User
from tests.builders import DEFAULT_PASSWORD


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
    wrapped = crypto.WrappedKey(
        user.wrapped_secret_key or "",
        user.key_salt or "",
        user.key_ops_limit or 0,
        user.key_mem_limit or 0,
    )
    secret_key = crypto.unwrap_secret_key(wrapped, DEFAULT_PASSWORD)
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
    staff_secret = crypto.unwrap_secret_key(
        crypto.WrappedKey(
            admin.wrapped_secret_key or "",
            admin.key_salt or "",
            admin.key_ops_limit or 0,
            admin.key_mem_limit or 0,
        ),
        DEFAULT_PASSWORD,
    )
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
