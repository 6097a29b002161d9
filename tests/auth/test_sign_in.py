"""Sign-in: password then TOTP, replay refused, lockout, per-IP throttling, session rotation,
time-outs, sign-out everywhere, hostile input."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.auth.sessions import SID
from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, Role, StaffSession, User
from intake.services import accounts, staff_sessions
from intake.services.passwords import verify_password
from tests.auth.helpers import csrf_token, post_code, post_password, sign_in_through_forms
from tests.builders import (
    DEFAULT_PASSWORD,
    authenticator,
    login_secrets,
    make_org_key,
    make_staff_with_keys,
    make_user,
    sign_in,
    unwrap_staff_secret,
)


def actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def test_password_then_totp_signs_in_and_offers_unlock(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.CASEWORKER)
    first = post_password(client, user.email)
    assert first.status_code == 302
    assert first.headers["Location"].endswith("/login/code")
    # Half-way is not signed in.
    assert client.get("/cases/").status_code == 302
    second = post_code(client, authenticator(user).now())
    assert second.status_code == 302
    assert "/auth/unlock" in second.headers["Location"]
    assert client.get("/cases/").status_code == 200
    assert "auth.login" in actions()
    db.session.refresh(user)
    assert user.last_login_at is not None
    assert user.failed_logins == 0


def test_unknown_email_and_wrong_password_get_the_same_answer(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.VIEWER)
    wrong = post_password(client, user.email, "not the right password")
    unknown = post_password(client, "nobody@example.org", DEFAULT_PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    message = "The e-mail address or the password is not correct."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    assert "nobody@example.org" not in str(db.session.scalars(sa.select(AuditEvent.detail)).all())


def test_session_is_rotated_at_sign_in(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.CASEWORKER)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker before sign-in"
    before = client.get_cookie("refuge_session")
    sign_in_through_forms(client, user)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == f"{user.id}:{user.session_epoch}"
        record = staff_sessions.find(session[SID])
    assert record is not None
    assert record.user_id == user.id
    assert record.revoked_at is None
    after = client.get_cookie("refuge_session")
    assert before is not None
    assert after is not None
    assert before.value != after.value


def test_totp_code_cannot_be_replayed(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.CASEWORKER)
    code = authenticator(user).now()
    assert sign_in_through_forms(client, user, code=code).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})
    other = app.test_client()
    replay = sign_in_through_forms(other, user, code=code)
    assert replay.status_code == 401
    assert "already used" in replay.get_data(as_text=True)
    assert other.get("/cases/").status_code == 302


def test_totp_replay_is_refused_by_the_service_for_earlier_steps(app: Flask) -> None:
    user = make_user(Role.VIEWER)
    totp = authenticator(user)
    now = time.time()
    assert accounts.check_totp(user, totp.at(now), now=now) is accounts.TotpResult.OK
    assert accounts.check_totp(user, totp.at(now), now=now) is accounts.TotpResult.REPLAY
    assert accounts.check_totp(user, totp.at(now - 30), now=now) is accounts.TotpResult.REPLAY
    assert accounts.check_totp(user, "12345x", now=now) is accounts.TotpResult.WRONG


def test_account_locks_after_repeated_failures_even_for_the_right_password(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.CASEWORKER)
    for _ in range(app.config.get("LOGIN_MAX_FAILURES", 5)):
        assert post_password(client, user.email, "wrong password!!").status_code in (401,)
    locked = post_password(client, user.email, DEFAULT_PASSWORD)
    assert locked.status_code == 401
    # Answered like a wrong password (no telling that the account exists); audited as a lock.
    assert "The e-mail address or the password is not correct." in locked.get_data(as_text=True)
    assert "locked" not in locked.get_data(as_text=True)
    assert actions()[-1] == "auth.refused_locked"
    db.session.refresh(user)
    assert user.locked_until is not None
    # When the lock has run out, the right password works again.
    user.locked_until = user.locked_until - timedelta(hours=1)
    db.session.commit()
    assert post_password(client, user.email).status_code == 302


def test_a_refused_code_is_said_beside_the_box_which_is_emptied(
    app: Flask, client: FlaskClient
) -> None:
    """The refused code stayed in the box and the error was only in the summary (a review)."""
    user = make_user(Role.CASEWORKER)
    assert post_password(client, user.email).status_code == 302
    now = authenticator(user).now()
    wrong = "000000" if now != "000000" else "111111"
    refused = post_code(client, wrong)
    assert refused.status_code == 401
    page = refused.get_data(as_text=True)
    assert re.search(r'id="code-error">The code is not correct', page), page
    assert 'href="#code"' in page
    box = re.search(r"<input[^>]*name=\"code\"[^>]*>", page)
    assert box, page
    assert wrong not in box.group(0)
    assert 'aria-invalid="true"' in box.group(0)
    assert 'aria-describedby="code-error"' in box.group(0)  # read out when focused


WAIT_HINT = "even the right password is refused until then"


def test_after_a_few_refusals_here_the_page_says_the_right_password_waits_too(
    app: Flask, client: FlaskClient
) -> None:
    """After typos the right password was called wrong, with no word of a wait: a stressed
    admin decided it was forgotten and kept trying, doubling the wait (a review). The hint
    follows this browser's own refusals, whichever address they were for, so it tells
    nothing about which accounts exist."""
    user = make_user(Role.CASEWORKER)
    free = int(app.config.get("LOGIN_FREE_FAILURES", 3))
    said = [
        WAIT_HINT
        in post_password(client, "nobody@example.org", "wrong password!!").get_data(as_text=True)
        for _ in range(free)
    ]
    assert said == [False] * (free - 1) + [True]
    # The same words for an existing account (here locked, with its right password).
    for _ in range(free + 1):
        post_password(client, user.email, "wrong password!!")
    locked = post_password(client, user.email, DEFAULT_PASSWORD)
    assert locked.status_code == 401
    assert WAIT_HINT in locked.get_data(as_text=True)
    # A sign-in in this browser starts the count afresh.
    user.locked_until = None
    db.session.commit()
    assert post_password(client, user.email).status_code == 302
    first = post_password(client, "nobody@example.org", "wrong password!!")
    assert WAIT_HINT not in first.get_data(as_text=True)


def test_wrong_totp_codes_count_towards_the_lockout(app: Flask, client: FlaskClient) -> None:
    """New rule (throttling, not a 5-strike lock): after LOGIN_FREE_FAILURES wrong codes the
    account waits: the code that starts the wait is sent back to /login with the message."""
    user = make_user(Role.CASEWORKER)
    post_password(client, user.email)
    for _ in range(app.config["LOGIN_FREE_FAILURES"] - 1):
        assert post_code(client, "000000").status_code == 401
    response = post_code(client, "000000")
    assert response.status_code == 302  # back to /login with the lock message
    db.session.refresh(user)
    assert user.locked_until is not None


def test_sign_in_is_throttled_per_address(make_app: Callable[..., Flask]) -> None:
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        client = app.test_client()
        token = csrf_token(client, "/login")
        form = {"csrf_token": token, "email": "x@example.org", "auth_secret": crypto.b64(b"x" * 32)}
        codes = [client.post("/login", data=form).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        throttled = client.post("/login", data=form)
        assert "Too many attempts" in throttled.get_data(as_text=True)


def test_sign_out_everywhere_ends_every_session(app: Flask) -> None:
    user = make_user(Role.CASEWORKER)
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, user)
    sign_in(phone, user)
    assert phone.get("/cases/").status_code == 200
    token = csrf_token(laptop, "/auth/account")
    assert laptop.post("/auth/logout-everywhere", data={"csrf_token": token}).status_code == 302
    assert phone.get("/cases/").status_code == 302
    assert laptop.get("/cases/").status_code == 302
    assert "auth.logout_everywhere" in actions()


def test_sign_out_is_a_post_and_works_even_with_an_expired_token(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.VIEWER)
    sign_in(client, user)
    assert client.get("/logout").status_code == 405
    assert client.get("/cases/").status_code == 200
    assert (
        client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")}).status_code
        == 302
    )
    assert client.get("/cases/").status_code == 302
    # A page left open past its token's life still signs out (400 for the record).
    sign_in(client, user)
    assert client.get("/cases/").status_code == 200
    assert client.post("/logout").status_code == 400
    assert client.get("/cases/").status_code == 302


def current_record(client: FlaskClient) -> StaffSession:
    with client.session_transaction() as session:
        record = staff_sessions.find(session.get(SID))
    assert record is not None
    return record


@pytest.mark.parametrize("column", ["last_seen_at", "created_at"])
def test_idle_and_absolute_time_outs_sign_out(app: Flask, client: FlaskClient, column: str) -> None:
    """Counted on the server: the cookie has no say in when a session ends."""
    user = make_user(Role.VIEWER)
    sign_in(client, user)
    assert client.get("/cases/").status_code == 200
    record = current_record(client)
    setattr(record, column, getattr(record, column) - timedelta(hours=9))
    db.session.commit()
    response = client.get("/cases/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert client.get("/cases/").status_code == 302
    page = client.get("/login").get_data(as_text=True)
    assert "signed out" in page or "session has ended" in page
    db.session.refresh(record)
    assert record.revoked_at is not None
    assert record.tab_key is None


def test_next_only_goes_to_a_path_on_this_site(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.VIEWER)
    post_password(client, user.email, path="/login?next=//evil.example/x")
    done = post_code(client, authenticator(user).now())
    assert "evil" not in done.headers["Location"]


def test_deactivated_account_cannot_sign_in(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.CASEWORKER)
    user.is_active_account = False
    db.session.commit()
    response = post_password(client, user.email)
    assert response.status_code == 401
    assert "not active" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "auth_secret"),
    [
        ("a" * 5000 + "@example.org", "x"),
        ("<script>alert(1)</script>", "x"),
        ("user@example.org", "p" * 5000),
        ("user@example.org", crypto.b64(b"p" * 31)),
        ("user@example.org", "<script>alert(1)</script>"),
        ("", ""),
        ("user@example.org\x00", "\x00\x01"),
    ],
)
def test_hostile_sign_in_input_gets_a_clear_4xx(
    app: Flask, client: FlaskClient, email: str, auth_secret: str
) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        data={"csrf_token": token, "email": email, "auth_secret": auth_secret, "password": "x"},
    )
    assert 400 <= response.status_code < 500
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


@pytest.mark.parametrize("code", ["", "abcdef", "1" * 13, "<b>1</b>", "１２３４５６"])
def test_hostile_codes_are_refused(app: Flask, client: FlaskClient, code: str) -> None:
    user = make_user(Role.VIEWER)
    post_password(client, user.email)
    response = post_code(client, code)
    assert 400 <= response.status_code < 500
    assert client.get("/cases/").status_code == 302


def test_second_step_without_the_first_goes_back_to_sign_in(client: FlaskClient) -> None:
    assert client.get("/login/code").headers["Location"].endswith("/login")


def test_idle_time_out_is_reset_by_activity(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.VIEWER)
    sign_in(client, user)
    record = current_record(client)
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    record.last_seen_at = record.last_seen_at - idle + timedelta(minutes=1)
    db.session.commit()
    assert client.get("/cases/").status_code == 200  # still within: activity noted
    db.session.refresh(record)
    assert utcnow() - record.last_seen_at < timedelta(seconds=5)


def test_a_copied_cookie_is_useless_after_sign_out(app: Flask, client: FlaskClient) -> None:
    """Signing out ends the session on the server, not only in this browser's cookie jar."""
    user = make_user(Role.CASEWORKER)
    sign_in_through_forms(client, user)
    assert client.get("/cases/").status_code == 200
    cookie = client.get_cookie("refuge_session")
    assert cookie is not None
    record = current_record(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})
    assert client.get("/cases/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("refuge_session", cookie.value, domain=cookie.domain or "localhost")
    assert thief.get("/cases/").status_code == 302
    assert thief.get("/auth/keyring").status_code == 302
    db.session.refresh(record)
    assert record.revoked_at is not None
    assert record.tab_key is None


def test_sign_out_everywhere_revokes_every_session_row(app: Flask) -> None:
    user = make_user(Role.CASEWORKER)
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, user)
    sign_in(phone, user)
    phone_cookie = phone.get_cookie("refuge_session")
    assert phone_cookie is not None
    token = csrf_token(laptop, "/auth/account")
    laptop.post("/auth/logout-everywhere", data={"csrf_token": token})
    rows = db.session.scalars(sa.select(StaffSession).where(StaffSession.user_id == user.id)).all()
    assert len(rows) == 2
    assert all(row.revoked_at is not None and row.tab_key is None for row in rows)
    assert phone.get("/cases/").status_code == 302


def test_a_stale_copy_of_the_account_cannot_accept_a_used_totp_step(app: Flask) -> None:
    """Two sign-ins racing with the same code: each loaded the account before the other
    accepted the code. Accepting is a compare-and-set in the database, so the second loses."""
    user = make_user(Role.VIEWER)
    totp = authenticator(user)
    now = time.time()
    step = int(now // accounts.TOTP_PERIOD)
    assert user.totp_last_step == 0  # this copy was loaded before the other request won
    with db.engine.begin() as connection:  # the other request, on its own connection
        connection.execute(sa.update(User).where(User.id == user.id).values(totp_last_step=step))
    assert accounts.check_totp(user, totp.at(now), now=now) is accounts.TotpResult.REPLAY
    db.session.rollback()
    db.session.refresh(user)
    assert user.totp_last_step == step


def test_totp_step_is_claimed_once_on_postgres(pg_app: Flask) -> None:
    """The same race on PostgreSQL, with two sessions holding the row lock in turn."""
    user = make_user(Role.VIEWER)
    user_id = user.id
    totp = authenticator(user)
    now = time.time()
    from sqlalchemy.orm import Session

    with Session(db.engine) as first, Session(db.engine) as second:
        copy_a = first.get(User, user_id)
        copy_b = second.get(User, user_id)
        assert copy_a is not None
        assert copy_b is not None
        step = int(now // accounts.TOTP_PERIOD)
        claim = (
            sa.update(User)
            .where(User.id == user_id, User.totp_last_step < step)
            .values(totp_last_step=step)
        )
        claimed_first = first.execute(claim)
        assert isinstance(claimed_first, sa.CursorResult)  # an UPDATE: it counts its rows
        assert claimed_first.rowcount == 1
        first.commit()
        claimed_second = second.execute(claim)
        assert isinstance(claimed_second, sa.CursorResult)
        assert claimed_second.rowcount == 0
    # And through the service, with a stale copy in the app's session:
    db.session.expire_all()
    stale = db.session.get(User, user_id)
    assert stale is not None
    assert accounts.check_totp(stale, totp.at(now), now=now) is accounts.TotpResult.REPLAY


def test_a_locked_account_answers_like_a_wrong_password(app: Flask, client: FlaskClient) -> None:
    user = make_user(Role.CASEWORKER)
    user.locked_until = utcnow() + timedelta(minutes=10)
    db.session.commit()
    locked = post_password(client, user.email, DEFAULT_PASSWORD)
    unknown = post_password(client, "nobody@example.org", DEFAULT_PASSWORD)
    assert locked.status_code == unknown.status_code == 401

    def message(response: Any) -> str:
        html = response.get_data(as_text=True)
        start = html.index('class="error-summary"')
        return html[start : html.index("</div>", start)]

    assert message(locked) == message(unknown)
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "auth.refused_locked")
    )
    assert event is not None
    assert event.target_id == str(user.id)


def test_the_invite_link_respects_the_lockout(app: Flask, client: FlaskClient) -> None:
    """A reset second factor sends the colleague a link that asks for their current password:
    it must not be a way round the lockout (nor reset it), and it answers a locked account as
    it answers a wrong password."""
    user = make_user(Role.CASEWORKER)
    user.totp_secret = None
    user.locked_until = utcnow() + timedelta(minutes=10)
    db.session.commit()
    token = accounts.enrol_token(user)
    path = f"/auth/enrol/{token}"
    right_proof = login_secrets(user).auth_secret
    wrong_proof = login_secrets(user, "not it at all").auth_secret
    locked = client.post(
        path, data={"csrf_token": csrf_token(client, path), "current_auth_secret": right_proof}
    )
    wrong = client.post(
        path, data={"csrf_token": csrf_token(client, path), "current_auth_secret": wrong_proof}
    )
    assert locked.status_code == wrong.status_code == 400
    assert "The password is not correct." in locked.get_data(as_text=True)
    assert "locked" not in locked.get_data(as_text=True).lower()
    db.session.refresh(user)
    assert user.totp_secret is None
    assert user.locked_until is not None
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "auth.refused_locked")
    )
    assert event is not None
    assert event.detail == {"where": "enrol"}
    # When the lock has run out, the link works.
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    done = client.post(
        path, data={"csrf_token": csrf_token(client, path), "current_auth_secret": right_proof}
    )
    assert done.status_code == 200


def test_the_salt_endpoint_does_not_tell_who_has_an_account(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(Role.CASEWORKER)
    token = csrf_token(client, "/login")

    def ask(email: str) -> dict[str, object]:
        answer = client.post("/auth/salt", data={"csrf_token": token, "email": email})
        assert answer.status_code == 200
        return dict(answer.get_json())

    real, unknown = ask(user.email), ask("nobody@example.org")
    assert set(real) == set(unknown) == {"salt", "ops_limit", "mem_limit", "upgrade"}
    assert real["salt"] == user.key_salt
    assert real["upgrade"] is False
    # The decoy is the same every time (asking twice tells nothing) and looks like a salt.
    assert ask("NOBODY@example.org") == unknown
    assert len(crypto.b64decode_strict(str(unknown["salt"]))) == 16
    assert ask("other@example.org")["salt"] != unknown["salt"]
    assert client.post("/auth/salt", data={"email": user.email}).status_code == 400  # CSRF
    assert client.post("/auth/salt", data={"csrf_token": token}).status_code == 400


def test_the_salt_endpoint_is_rate_limited(make_app: Callable[..., Flask]) -> None:
    app = make_app(SALT_RATE_LIMIT="2 per minute")
    with app.app_context():
        client = app.test_client()
        token = csrf_token(client, "/login")
        form = {"csrf_token": token, "email": "x@example.org"}
        codes = [client.post("/auth/salt", data=form).status_code for _ in range(3)]
        assert codes == [200, 200, 429]


def test_an_account_of_the_old_scheme_moves_to_the_new_one_at_sign_in(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    user, secret = make_staff_with_keys(Role.CASEWORKER, org, legacy=True)
    # Its proof alone is not enough: the server must see the old password once.
    token = csrf_token(client, "/login")
    how = client.post("/auth/salt", data={"csrf_token": token, "email": user.email}).get_json()
    assert how["upgrade"] is True
    proof = login_secrets(user).auth_secret
    only_proof = client.post(
        "/login", data={"csrf_token": token, "email": user.email, "auth_secret": proof}
    )
    assert only_proof.status_code == 401
    assert post_password(client, user.email).status_code == 302
    db.session.refresh(user)
    assert user.password_scheme == 2
    assert verify_password(user.password_hash, proof)
    assert not verify_password(user.password_hash, DEFAULT_PASSWORD)
    # The key is re-wrapped at unlock (keyring.js): same keypair, same salt.
    assert user.key_scheme == 1
    sign_in(client, user)
    rewrapped = crypto.wrap_with_key(secret, login_secrets(user).wrapping_key)
    token = csrf_token(client, "/auth/account")
    bad = client.post(
        "/auth/keyring/rewrap",
        data={
            "csrf_token": token,
            "auth_secret": login_secrets(user, "a wrong password").auth_secret,
            "wrapped_secret_key": rewrapped,
        },
    )
    assert bad.status_code == 400
    ok = client.post(
        "/auth/keyring/rewrap",
        data={"csrf_token": token, "auth_secret": proof, "wrapped_secret_key": rewrapped},
    )
    assert ok.status_code == 200
    db.session.refresh(user)
    assert user.key_scheme == 2
    assert unwrap_staff_secret(user) == secret
    again = client.post(
        "/auth/keyring/rewrap",
        data={"csrf_token": token, "auth_secret": proof, "wrapped_secret_key": rewrapped},
    )
    assert again.status_code == 400
