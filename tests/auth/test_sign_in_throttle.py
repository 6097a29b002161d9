"""Failed sign-ins slow an account down without letting an attacker lock its owner out."""

from __future__ import annotations

import pyotp
import sqlalchemy as sa
from flask import Flask

from intake.auth import devices
from intake.extensions import db
from intake.models import AuditEvent, Role
from intake.services import sign_in_throttle
from tests.auth.helpers import csrf_token, post_code, post_password, sign_in_through_forms
from tests.builders import make_user, sign_in


def test_the_wait_doubles_with_each_failure(app: Flask) -> None:
    free = app.config["LOGIN_FREE_FAILURES"]
    waits = [sign_in_throttle.delay_seconds(n) for n in range(1, free + 6)]
    assert waits[: free - 1] == [0] * (free - 1)
    counted = waits[free - 1 :]
    assert all(later == 2 * earlier for earlier, later in zip(counted, counted[1:], strict=False))
    assert sign_in_throttle.delay_seconds(100) == app.config["LOGIN_DELAY_MAX_SECONDS"]


def test_an_attackers_five_wrong_passwords_do_not_stop_the_owner_on_a_trusted_device(
    app: Flask,
) -> None:
    owner = make_user(Role.CASEWORKER)
    laptop = app.test_client()
    assert sign_in_through_forms(laptop, owner).status_code == 302
    assert laptop.get_cookie(devices.COOKIE) is not None
    laptop.post("/logout", data={"csrf_token": csrf_token(laptop, "/cases/")})

    attacker = app.test_client()
    for _ in range(5):
        assert post_password(attacker, owner.email, "not the password!!").status_code == 401
    db.session.refresh(owner)
    assert owner.locked_until is not None
    # Even the right password is refused to the attacker's browser while the account waits.
    assert post_password(attacker, owner.email).status_code == 401

    # The owner's laptop signs in at once (with the next TOTP step), and that lifts the wait.
    db.session.refresh(owner)
    code = pyotp.TOTP(owner.totp_secret or "").at((owner.totp_last_step + 1) * 30)
    first = post_password(laptop, owner.email)
    assert first.status_code == 302
    assert post_code(laptop, code).status_code == 302
    db.session.refresh(owner)
    assert (owner.failed_logins, owner.locked_until) == (0, None)


def test_a_device_cookie_for_another_account_or_an_old_epoch_is_not_trusted(app: Flask) -> None:
    owner = make_user(Role.CASEWORKER)
    other = make_user(Role.CASEWORKER)
    laptop = app.test_client()
    sign_in_through_forms(laptop, owner)
    cookie = laptop.get_cookie(devices.COOKIE)
    assert cookie is not None
    for _ in range(3):
        post_password(app.test_client(), other.email, "not the password!!")
    # The owner's device cookie does not help with another account.
    borrowed = app.test_client()
    borrowed.set_cookie(devices.COOKIE, cookie.value)
    assert post_password(borrowed, other.email).status_code == 401
    # Nor after "sign out everywhere" (the epoch moved on).
    for _ in range(3):
        post_password(app.test_client(), owner.email, "not the password!!")
    owner.session_epoch += 1
    db.session.commit()
    stale = app.test_client()
    stale.set_cookie(devices.COOKIE, cookie.value)
    assert post_password(stale, owner.email).status_code == 401


def test_the_second_factor_cap_holds_across_sessions_and_successes(app: Flask) -> None:
    app.config["TOTP_DAILY_CAP"] = 4
    user = make_user(Role.CASEWORKER)
    for _ in range(4):  # a new browser each time: nothing in a session to reset
        browser = app.test_client()
        user.locked_until = None  # the wait is not what is tested here
        db.session.commit()
        assert post_password(browser, user.email).status_code == 302
        post_code(browser, "000000")
    assert sign_in_throttle.totp_failures_today(user) == 4
    user.locked_until = None
    db.session.commit()
    browser = app.test_client()
    assert post_password(browser, user.email).status_code == 302
    right = pyotp.TOTP(user.totp_secret or "").now()
    capped = post_code(browser, right)
    assert capped.status_code == 302  # back to /login: even the right code is refused today
    db.session.refresh(user)
    assert user.last_login_at is None


def test_an_admin_lifts_the_wait_with_a_csrf_post_that_is_audited(app: Flask) -> None:
    admin = make_user(Role.ADMIN)
    colleague = make_user(Role.CASEWORKER)
    for _ in range(4):
        post_password(app.test_client(), colleague.email, "not the password!!")
    db.session.refresh(colleague)
    assert colleague.locked_until is not None
    client = app.test_client()
    sign_in(client, admin)
    page = client.get("/admin/users").text
    assert f"/admin/users/{colleague.id}/lift-throttle" in page
    url = f"/admin/users/{colleague.id}/lift-throttle"
    assert client.post(url).status_code == 400  # no CSRF token: nothing happens
    db.session.refresh(colleague)
    assert colleague.locked_until is not None
    assert (
        client.post(url, data={"csrf_token": csrf_token(client, "/admin/users")}).status_code == 302
    )
    db.session.refresh(colleague)
    assert (colleague.failed_logins, colleague.locked_until) == (0, None)
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == sign_in_throttle.LIFTED)
    ).one()
    assert (event.actor_id, event.target_id) == (admin.id, str(colleague.id))
    assert post_password(app.test_client(), colleague.email).status_code == 302
