"""Real Chromium: a page that ends a sign-in attempt instead of /login or the code page — the
"too many attempts" page (429) or another error page on the sign-in paths (a form expired) —
forgets the key-wrapping key carried from /login, as /login shown again does. It was left in
the tab's session storage (a review: the 429 page loaded no script at all)."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from flask import Flask

from intake.models import Role
from tests.browser_steps import CARRIED_KEY, password_and_code
from tests.builders import DEFAULT_PASSWORD, make_org_key, make_staff_with_keys

pytestmark = pytest.mark.browser


def storage(page: Any) -> dict[str, str]:
    return dict(page.evaluate("() => Object.assign({}, sessionStorage)"))


def type_password(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("#password", password)


def test_the_too_many_attempts_page_after_login_leaves_nothing_in_session_storage(
    app: Flask, live_server: Any, page: Any
) -> None:
    """Fails on the code before: the 429 page kept the carried key."""
    base = live_server.url
    user, _ = make_staff_with_keys(Role.CASEWORKER, make_org_key(), email="hurried@example.org")
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    type_password(page, base, user.email, "not the password at all")
    page.click("main button[type=submit]")
    page.wait_for_selector("main :text('is not correct')")
    page.wait_for_load_state("load")  # (its scripts at the end of the page have run)
    assert storage(page) == {}

    # The right password, over the limit: login.js carried the key before the post was refused.
    type_password(page, base, user.email, DEFAULT_PASSWORD)
    with page.expect_response(lambda r: r.url.startswith(f"{base}/login")) as answer:
        page.click("main button[type=submit]")
    assert answer.value.status == 429
    page.wait_for_load_state("load")
    assert "Too many attempts" in page.locator("main").inner_text()
    page.wait_for_function(f"() => sessionStorage.getItem('{CARRIED_KEY}') === null", timeout=5000)
    assert storage(page) == {}
    assert not errors, errors


def test_too_many_codes_and_an_expired_form_end_the_attempt_and_forget_the_key(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    user, _ = make_staff_with_keys(Role.CASEWORKER, make_org_key(), email="codes@example.org")
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"  # per page: /login and /login/code each

    # At the code page: one wrong code is shown again (the key kept for the next try), the
    # next post is refused as too many.
    password_and_code(page, base, user.email, DEFAULT_PASSWORD, user.totp_secret)
    right = pyotp.TOTP(user.totp_secret or "").now()
    page.fill("input[name=code]", f"{(int(right) + 1) % 1_000_000:06d}")
    page.click("main button[type=submit]")
    page.wait_for_selector("main :text('is not correct')")
    assert CARRIED_KEY in storage(page)
    page.fill("input[name=code]", right)
    with page.expect_response(lambda r: r.url.startswith(f"{base}/login/code")) as answer:
        page.click("main button[type=submit]")
    assert answer.value.status == 429
    page.wait_for_load_state("load")
    page.wait_for_function(f"() => sessionStorage.getItem('{CARRIED_KEY}') === null", timeout=5000)
    assert storage(page) == {}


def test_an_expired_sign_in_form_forgets_the_key_it_carried(
    app: Flask, live_server: Any, page: Any
) -> None:
    """The sign-in form's token expired (a page left open for hours): the 400 page says so,
    and nothing of the password typed into it stays behind."""
    base = live_server.url
    user, _ = make_staff_with_keys(Role.CASEWORKER, make_org_key(), email="slow@example.org")
    type_password(page, base, user.email, DEFAULT_PASSWORD)
    # The form's token is refused when the form is posted (the salt is asked for first).
    page.route(
        f"{base}/login",
        lambda route: (
            route.continue_(
                post_data=re.sub(r"csrf_token=[^&]*", "csrf_token=expired", route.request.post_data)
            )
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    with page.expect_response(lambda r: r.url.startswith(f"{base}/login")) as answer:
        page.click("main button[type=submit]")
    assert answer.value.status == 400
    page.wait_for_load_state("load")
    assert "expired" in page.locator("main").inner_text()
    page.wait_for_function(f"() => sessionStorage.getItem('{CARRIED_KEY}') === null", timeout=5000)
    assert storage(page) == {}
