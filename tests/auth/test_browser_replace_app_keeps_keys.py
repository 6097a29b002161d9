"""Real Chromium: replacing one's authenticator app leaves the tab's keys unlocked. The change
ends the account's other sessions (the lost phone may have signed in somewhere), but this one
goes on, and nothing about the keys changed: it used to start a brand-new session whose new
tab key could not open the tab's keyring, and the next page said "Keys locked" and asked for
the password again (a review)."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from flask import Flask

from intake.extensions import db
from intake.models import Role
from intake.services import second_factor
from tests.browser_steps import sign_in_and_unlock
from tests.builders import DEFAULT_PASSWORD, make_case, make_org_key, make_staff_with_keys, sign_in

pytestmark = pytest.mark.browser

CANARY = "replaced-app-canary"


def replace_the_app(page: Any, base: str) -> str:
    """Account → Replace my authenticator app (the password again), then the new app's code."""
    page.goto(f"{base}/auth/account")
    form = page.locator("form[data-replace-totp]")
    form.locator("input[type=password]").fill(DEFAULT_PASSWORD)
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/auth/totp/replace")
    new_secret = page.locator("[data-totp-secret]").inner_text().strip()
    page.fill("input[name=code]", pyotp.TOTP(new_secret).at(int(time.time()) + 30))
    page.locator("form[data-totp-confirm] button[type=submit]").click()
    return new_secret


def session_cookie(page: Any, app: Flask) -> str:
    name = app.config["SESSION_COOKIE_NAME"]
    return next(c["value"] for c in page.context.cookies() if c["name"] == name)


@pytest.mark.parametrize("codes_left", [True, False])
def test_replacing_the_authenticator_app_keeps_the_tabs_keys_unlocked(
    app: Flask, live_server: Any, page: Any, codes_left: bool
) -> None:
    """Fails on the code before: the page after the replacement said "Keys locked"."""
    base = live_server.url
    org = make_org_key()
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="new-phone@example.org")
    if codes_left:
        second_factor.regenerate_recovery_codes(user)  # kept: the account page comes next
    db.session.commit()
    case = make_case(org, {"what_happened": f"{CANARY} what happened"})
    elsewhere = app.test_client()  # the lost phone's session, say
    sign_in(elsewhere, user)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_and_unlock(page, base, user.email, DEFAULT_PASSWORD, user.totp_secret)
    before = session_cookie(page, app)

    new_secret = replace_the_app(page, base)
    if codes_left:
        page.wait_for_url(f"{base}/auth/account*")
        assert page.locator(".flash-success").is_visible()
    else:
        page.wait_for_selector("[data-recovery-code]")  # ten new ones, shown once
    page.wait_for_load_state("load")
    page.wait_for_selector("#lock-state.is-unlocked", state="attached", timeout=10_000)
    assert page.evaluate("window.RefugeKeyring.isUnlocked()") is True
    assert page.locator("[data-lock-status]").first.inner_text() == "Keys unlocked"

    # A case opens without the password; the app was replaced as before.
    page.goto(f"{base}/cases/{case.ref}")
    page.wait_for_selector("#case-lock[data-state=unlocked]", timeout=30_000)
    assert f"{CANARY} what happened" in page.locator("#answers").inner_text()
    db.session.refresh(user)
    assert user.totp_secret == new_secret
    # Still a new cookie for this browser (rotated, as at sign-in), and the other session over.
    assert session_cookie(page, app) != before
    assert elsewhere.get("/cases/").status_code == 302
    assert errors == [], errors
