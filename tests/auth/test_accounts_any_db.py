"""The accounts and keys services on SQLite and on real PostgreSQL."""

from __future__ import annotations

from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import Role
from intake.services import accounts, keys, second_factor
from tests.builders import DEFAULT_PASSWORD, authenticator, login_secrets, unwrap_staff_secret


def test_account_lifecycle_and_keyring_on_each_database(any_app: Flask) -> None:
    any_app.config["KEY_WRAP_OPS_LIMIT"] = 1
    any_app.config["KEY_WRAP_MEM_LIMIT"] = 8192
    admin = accounts.create_user(
        "Admin@Example.org",
        Role.ADMIN,
        password=DEFAULT_PASSWORD,
        server_keys=True,
        totp_confirmed=True,
    )
    db.session.commit()
    result = keys.init_from_cli("admin@example.org", DEFAULT_PASSWORD)
    proof = login_secrets(admin).auth_secret
    assert accounts.check_password_step("admin@example.org", proof).user == admin
    wrong = accounts.check_password_step(
        "ADMIN@example.org", login_secrets(admin, "wrong password for sure").auth_secret
    )
    assert wrong.result is accounts.LoginResult.WRONG
    code = authenticator(admin).now()
    assert second_factor.check_code_step(admin, code)[0] is accounts.TotpResult.OK
    accounts.complete_login(admin)
    assert second_factor.check_code_step(admin, code)[0] is accounts.TotpResult.REPLAY
    payload = keys.keyring_payload(admin)
    [grant] = payload["grants"]
    assert grant["org_key_id"] == result.org_key.id
    assert payload["key_scheme"] == 2
    staff_secret = unwrap_staff_secret(admin)
    org_secret = crypto.unseal(crypto.b64decode_strict(grant["sealed_org_secret"]), staff_secret)
    assert crypto.public_key_of(org_secret) == result.org_key.public_key
