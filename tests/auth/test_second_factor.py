"""The second factor done right: TOTP confirmed before it counts, one-time recovery codes,
secrets sealed at rest, and a right second factor that lifts the sign-in wait."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import Passkey, RecoveryCode, Role, User
from intake.services import second_factor
from intake.services.accounts import TotpResult
from tests.auth.helpers import (
    audit_events,
    csrf_token,
    enrol_without_confirming,
    post_code,
    post_password,
)
from tests.builders import make_user, sign_in


def _invite_and_enrol(client: FlaskClient, email: str = "new@example.org") -> User:
    """An account whose holder set a password through the link: its TOTP is pending."""
    user, page = enrol_without_confirming(client, email)
    assert "data-otpauth-uri" in page
    return user


def _confirm(client: FlaskClient, code: str) -> tuple[int, str]:
    response = client.post(
        "/auth/totp/confirm", data={"csrf_token": csrf_token(client, "/login"), "code": code}
    )
    return response.status_code, response.get_data(as_text=True)


def _next_code(user: User) -> str:
    assert user.totp_secret
    return pyotp.TOTP(user.totp_secret).at(int(time.time()) + 30)


def test_a_new_totp_secret_signs_no_one_in_until_a_current_code_confirms_it(
    app: Flask, client: FlaskClient
) -> None:
    user = _invite_and_enrol(client)
    assert user.totp_confirmed_at is None
    # Before confirmation: the secret completes no second step.
    outcome, _ = second_factor.check_code_step(user, pyotp.TOTP(user.totp_secret or "").now())
    assert outcome is not TotpResult.OK
    other = app.test_client()
    wrong = "000000" if pyotp.TOTP(user.totp_secret or "").now() != "000000" else "111111"
    status, page = _confirm(client, wrong)
    assert status == 400
    assert "The code is not correct" in page
    assert f'value="{wrong}"' not in page  # emptied for the next code, as at /login/code
    assert "data-otpauth-uri" in page  # the QR code and URI are shown again with the error
    status, page = _confirm(client, pyotp.TOTP(user.totp_secret or "").now())
    assert status == 200
    assert page.count("data-recovery-code>") == 10
    db.session.refresh(user)
    assert user.totp_confirmed_at is not None
    assert audit_events("auth.totp_confirmed", user)
    # Confirmed once: the page is gone, and the account signs in.
    assert _confirm(client, _next_code(user))[0] == 400
    assert post_password(other, user.email).status_code == 302
    assert post_code(other, _next_code(user)).status_code == 302


def test_confirmation_without_an_enrolment_in_this_session_changes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user()
    user.totp_confirmed_at = None
    db.session.commit()
    status, page = _confirm(client, pyotp.TOTP(user.totp_secret or "").now())
    assert status == 400
    assert "expired" in page
    db.session.refresh(user)
    assert user.totp_confirmed_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0


def test_a_recovery_code_signs_in_once_is_audited_and_the_count_drops(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user()
    codes = second_factor.regenerate_recovery_codes(user)
    assert len(codes) == 10 == len(set(codes))
    stored = db.session.scalars(sa.select(RecoveryCode.code_hash)).all()
    assert not any(code.replace("-", "") in value for code in codes for value in stored)
    assert post_password(client, user.email).status_code == 302
    assert post_code(client, codes[3].upper().replace("-", " ")).status_code == 302
    assert second_factor.recovery_codes_left(user) == 9
    used = audit_events("auth.recovery_code_used", user)
    assert len(used) == 1
    assert used[0].detail == {"left": 9}
    again = app.test_client()
    assert post_password(again, user.email).status_code == 302
    assert post_code(again, codes[3]).status_code == 401  # used: never twice
    assert second_factor.recovery_codes_left(user) == 9


def test_new_recovery_codes_replace_the_old_ones_from_the_account_page(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user()
    old = second_factor.regenerate_recovery_codes(user)
    sign_in(client, user)
    page = client.get("/auth/account").get_data(as_text=True)
    assert "data-recovery-left>10<" in page
    token = csrf_token(client, "/auth/account")
    # First a question: the codes kept on paper would stop working on one tap.
    asked = client.post("/auth/recovery-codes", data={"csrf_token": token})
    assert asked.status_code == 200
    question = asked.get_data(as_text=True)
    assert 'data-confirm="recovery_codes"' in question
    assert "data-recovery-code>" not in question
    assert second_factor.recovery_codes_left(user) == 10
    response = client.post("/auth/recovery-codes", data={"csrf_token": token, "confirmed": "yes"})
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("data-recovery-code>") == 10
    assert not second_factor._use_recovery_code(user, old[0])
    assert client.post("/auth/recovery-codes", data={}).status_code == 400  # no CSRF token


def test_a_right_second_factor_lifts_the_wait_someone_else_caused(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user()
    assert post_password(client, user.email).status_code == 302
    # Meanwhile someone who knows only the address runs the account into a wait.
    for _ in range(6):
        post_password(app.test_client(), user.email, "a wrong password, again and again")
    db.session.refresh(user)
    assert user.locked_until is not None
    assert user.locked_until > utcnow()
    wrong = "000000" if pyotp.TOTP(user.totp_secret or "").now() != "000000" else "111111"
    assert post_code(client, wrong).status_code == 302  # refused: locked, back to /login
    assert post_password(client, user.email).status_code == 401  # still waiting
    # The owner gave the right password before the wait began; the wait is on now.
    user.locked_until = None
    db.session.commit()
    owner = app.test_client()
    assert post_password(owner, user.email).status_code == 302
    user.locked_until = utcnow() + timedelta(hours=1)
    user.failed_logins = 9
    db.session.commit()
    assert post_code(owner, _next_code(user)).status_code == 302
    db.session.refresh(user)
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert audit_events("auth.sign_in_wait_cleared", user)[0].detail == {"by": "totp"}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_no_totp_secret_is_stored_in_the_clear(any_app: Flask, backend: str) -> None:
    user = make_user()
    secret = user.totp_secret
    assert secret
    raw = db.session.execute(
        sa.text("SELECT totp_secret FROM users WHERE id = :id"), {"id": user.id}
    ).scalar_one()
    assert secret not in raw
    assert raw.startswith("v1:")
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_secret == secret  # type: ignore[union-attr]
    # Under another TOTP_KEY the secret does not open: no factor, not a crash.
    any_app.config["TOTP_KEY"] = "another key"
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_secret is None  # type: ignore[union-attr]


def test_migration_seals_plain_secrets_and_counts_them_confirmed(app: Flask) -> None:
    import importlib.util

    path = Path(__file__).parents[2] / "migrations" / "versions" / "0012_second_factor.py"
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    assert spec
    assert spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    user = make_user()
    plain = pyotp.random_base32()
    db.session.execute(
        sa.text("UPDATE users SET totp_secret = :s, totp_confirmed_at = NULL WHERE id = :id"),
        {"s": plain, "id": user.id},
    )
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_secret == plain  # type: ignore[union-attr]
    assert migration.seal_plain_totp_secrets(db.session.connection()) == 1
    db.session.commit()
    raw = db.session.execute(sa.text("SELECT totp_secret FROM users")).scalar_one()
    assert plain not in raw
    db.session.expire_all()
    again = db.session.get(User, user.id)
    assert again is not None
    assert again.totp_secret == plain
    assert again.totp_confirmed_at


def test_the_last_second_factor_cannot_be_removed(app: Flask, client: FlaskClient) -> None:
    user = make_user()
    sign_in(client, user)
    token = csrf_token(client, "/auth/account")
    assert client.post("/auth/totp/remove", data={"csrf_token": token}).status_code == 400
    db.session.refresh(user)
    assert user.totp_secret
    db.session.add(
        Passkey(user_id=user.id, name="key", credential_id="abc", public_key="x", sign_count=0)
    )
    db.session.commit()
    assert client.post("/auth/passkeys/99/remove", data={"csrf_token": token}).status_code == 404
    assert client.post("/auth/totp/remove", data={"csrf_token": token}).status_code == 303
    db.session.refresh(user)
    assert user.totp_secret is None
    passkey_id = db.session.scalar(sa.select(Passkey.id))
    removed = client.post(f"/auth/passkeys/{passkey_id}/remove", data={"csrf_token": token})
    assert removed.status_code == 400  # the only factor left
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Passkey)) == 1


@pytest.mark.parametrize(
    "credential",
    [
        "",
        "not json",
        "[]",
        '{"id": 5}',
        '{"id": "abc", "response": {}}',
        "x" * 20_000,
        "[" * 16_000,  # deeper than the JSON parser goes: a RecursionError was a 500
    ],
)
def test_hostile_passkey_answers_are_refused_and_change_nothing(
    app: Flask, client: FlaskClient, credential: str
) -> None:
    user = make_user()
    sign_in(client, user)
    token = csrf_token(client, "/auth/account")
    headers = {"X-CSRFToken": token}
    assert client.post("/auth/passkeys/options", headers=headers).status_code == 200
    added = client.post(
        "/auth/passkeys", data={"csrf_token": token, "name": "k", "credential": credential}
    )
    assert added.status_code == 400
    assert "error" in (added.json or {})
    # At the second step a hostile answer is a failure, never a sign-in nor a 500.
    second = app.test_client()
    db.session.add(
        Passkey(user_id=user.id, name="key", credential_id="abc", public_key="x", sign_count=0)
    )
    db.session.commit()
    assert post_password(second, user.email).status_code == 302
    login_token = csrf_token(second, "/login/code")
    options = second.post("/login/passkey/options", headers={"X-CSRFToken": login_token})
    assert options.status_code == 200
    answer = second.post(
        "/login/passkey", data={"csrf_token": login_token, "credential": credential}
    )
    assert answer.status_code == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Passkey)) == 1
    # Without a pending sign-in there is nothing to answer.
    assert app.test_client().post("/login/passkey/options").status_code == 400


def test_second_factor_pages_and_refusals_in_traditional_chinese(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user()
    sign_in(client, user)
    client.get("/auth/account?lang=zh_Hant")
    account = client.get("/auth/account").get_data(as_text=True)
    assert "第二驗證因素" in account
    assert "新增通行密鑰" in account
    assert "剩餘的復原碼" in account
    token = csrf_token(client, "/auth/account")
    refused = client.post("/auth/totp/remove", data={"csrf_token": token})
    assert "這是你唯一的第二驗證因素" in refused.get_data(as_text=True)
    asked = client.post("/auth/recovery-codes", data={"csrf_token": token})
    assert "要產生新的復原碼嗎" in asked.get_data(as_text=True)
    codes = client.post("/auth/recovery-codes", data={"csrf_token": token, "confirmed": "yes"})
    assert "你的復原碼" in codes.get_data(as_text=True)


def test_at_an_ip_address_the_account_page_says_where_passkeys_work(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.CASEWORKER)
    sign_in(client, user)
    by_name = client.get("/auth/account").get_data(as_text=True)
    assert "data-passkey-register" in by_name
    assert "data-passkey-needs-host" not in by_name
    app.config["PUBLIC_BASE_URL"] = "http://127.0.0.1:5000"  # as `make run` prints it
    by_address = client.get("/auth/account").get_data(as_text=True)
    assert "data-passkey-register" not in by_address  # the browser would refuse the ceremony
    assert "http://localhost:5000/" in by_address
    # `make run` names this machine localhost; opened at 127.0.0.1 all the same, the page
    # says where passkeys work rather than offering a ceremony the browser refuses.
    app.config["PUBLIC_BASE_URL"] = "http://localhost:5000"
    at_localhost = client.get("/auth/account", base_url="http://localhost:5000")
    assert "data-passkey-register" in at_localhost.get_data(as_text=True)
    from intake.services import passkeys

    with app.test_request_context("/auth/account", base_url="http://127.0.0.1:5000"):
        assert passkeys.address_for_passkeys() == "http://localhost:5000/"
    with app.test_request_context("/auth/account", base_url="http://localhost:5000"):
        assert passkeys.address_for_passkeys() is None


@pytest.mark.parametrize(("lang", "added"), [("zh_Hant", "2026年10月12日"), ("en", "12 Oct 2026")])
def test_a_passkeys_date_is_written_as_the_other_dates(
    app: Flask, client: FlaskClient, lang: str, added: str
) -> None:
    """ "於 2026-10-12 新增" beside every other date written "2026年10月12日" (a review)."""
    user = make_user()
    when = utcnow().replace(year=2026, month=10, day=12, hour=12)
    db.session.add(
        Passkey(user_id=user.id, name="key", credential_id="abc", public_key="x", created_at=when)
    )
    db.session.commit()
    sign_in(client, user)
    account = client.get(f"/auth/account?lang={lang}").get_data(as_text=True)
    assert added in account
    assert "2026-10-12" not in account
