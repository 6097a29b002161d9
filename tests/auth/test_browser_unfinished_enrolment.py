"""Real Chromium: the first admin sets Refuge up, leaves the second-factor page without
confirming, and later signs in with the password alone (split in the browser, as at any
sign-in): a new authenticator app, its code, the recovery codes, then the keys unlock. /setup
opened again says Refuge is set up and leads to sign-in."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import OrgKey, User
from intake.services import second_factor, setup_token
from tests.auth.test_browser_keys import (
    ADMIN_EMAIL,
    ORG_PUBLIC_KEY_JS,
    assert_password_never_sent,
    record_request_bodies,
)
from tests.browser_steps import assert_accessible, in_view
from tests.builders import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def _set_up_and_leave(page: Any, base: str) -> str:
    """/setup in the browser, up to the second-factor page; returns the secret it showed."""
    page.goto(f"{base}/setup?token={setup_token.issue()}")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("#password", DEFAULT_PASSWORD)
    page.fill("#confirm", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.locator("[data-recovery-key]").wait_for(state="visible", timeout=30_000)
    kit_key = (page.locator("[data-recovery-key]").text_content() or "").strip()
    page.fill("#recovery-confirm-input", " ".join(kit_key.split("-")[-2:]))
    page.click("form[data-recovery-confirm] button[type=submit]")
    page.locator("[data-totp-secret]").wait_for(timeout=30_000)
    return (page.locator("[data-totp-secret]").text_content() or "").strip()


@pytest.mark.parametrize(("width", "lang"), [(1280, "en"), (390, "zh_Hans")])
def test_a_first_admin_who_left_setup_finishes_the_second_factor_at_sign_in_and_unlocks(
    app: Flask, live_server: Any, browser: Any, width: int, lang: str
) -> None:
    base = live_server.url
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    bodies = record_request_bodies(page)
    shown_at_setup = _set_up_and_leave(page, base)

    # Days later: the set-up link again, then sign-in.
    page.goto(f"{base}/login?lang={lang}")
    assert page.goto(f"{base}/setup").status == 404
    assert page.locator("[data-setup-closed]").is_visible()
    page.locator("main a.button[href='/login']").click()
    page.wait_for_url(f"{base}/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.locator("[data-enrolment-resumed]").wait_for()
    new_secret = (page.locator("[data-totp-secret]").text_content() or "").strip()
    assert new_secret
    assert new_secret != shown_at_setup
    assert page.locator("[data-needs-key-grant]").count() == 0  # the admin holds the key
    assert_accessible(page, "main")

    # A wrong code: the answer opens at the step, its error in sight (it was below the QR
    # code and the secret, the page at its top), and Tab goes on from there.
    wrong = "000000" if pyotp.TOTP(new_secret).now() != "000000" else "111111"
    page.fill("form[data-totp-confirm] input[name=code]", wrong)
    page.click("form[data-totp-confirm] button[type=submit]")
    page.wait_for_load_state("load")
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert page.url.endswith("/auth/totp/confirm#totp-confirm")
    assert in_view(page, ".error-summary"), (summary.bounding_box(), page.evaluate("scrollY"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.error-summary, form') !== null")
    page.fill("form[data-totp-confirm] input[name=code]", pyotp.TOTP(new_secret).now())
    page.click("form[data-totp-confirm] button[type=submit]")
    page.wait_for_load_state("load")
    page.locator("[data-recovery-code]").first.wait_for()
    assert page.locator("[data-recovery-code]").count() == 10
    page.click("[data-codes-kept]")
    # The password typed at /login unlocks the keys: the unlock page goes straight on.
    page.wait_for_url(f"{base}/cases/*")
    page.wait_for_selector("#lock-state.is-unlocked", state="attached")

    db.session.expire_all()
    admin = db.session.scalar(sa.select(User).where(User.email == ADMIN_EMAIL))
    org_key = db.session.scalar(sa.select(OrgKey))
    assert admin is not None
    assert org_key is not None
    assert admin.totp_secret == new_secret
    assert second_factor.has_confirmed_totp(admin)
    # The keys made at set-up open in this tab: the organisation key is the one cases use.
    opened = page.evaluate(ORG_PUBLIC_KEY_JS, org_key.id)
    assert opened["pub"] == opened["derived"] == org_key.public_key
    assert not errors, errors
    assert_password_never_sent(bodies, DEFAULT_PASSWORD)

    # In another browser, the next sign-in asks for the app's code like any other.
    other = browser.new_context().new_page()
    other.goto(f"{base}/login")
    other.fill("input[name=email]", ADMIN_EMAIL)
    other.fill("#password", DEFAULT_PASSWORD)
    other.click("main button[type=submit]")
    other.wait_for_url(f"{base}/login/code**")
    other.fill("input[name=code]", pyotp.TOTP(new_secret).at(int(time.time()) + 30))
    other.click("main button[type=submit]")
    other.wait_for_url(f"{base}/auth/unlock**")
    other.context.close()
    context.close()
