"""Real Chromium: replacing the authenticator app from the account page (the password proved
by login.js, as at sign-in), and the recovery codes page, which prints and asks before the
codes are lost."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import AuditEvent, Role
from intake.services import second_factor
from tests.builders import DEFAULT_PASSWORD, make_user, signed_in_context

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("width", "lang"), [(1280, "en"), (390, "zh_Hant")])
def test_a_signed_in_holder_replaces_their_authenticator_app_in_the_browser(
    app: Flask, live_server: Any, browser: Any, width: int, lang: str
) -> None:
    user = make_user(Role.ADMIN, email="phone@example.org")
    second_factor.regenerate_recovery_codes(user)  # kept on paper: they stay
    old_secret = user.totp_secret
    base = live_server.url
    context = signed_in_context(browser, app, base, user, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    posted: list[str] = []
    page.on(
        "request",
        lambda request: (
            posted.append(request.post_data or "")
            if request.url.endswith("/auth/totp/replace") and request.method == "POST"
            else None
        ),
    )
    page.goto(f"{base}/auth/account?lang={lang}")
    form = page.locator("form[data-replace-totp]")
    form.locator("input[type=password]").fill(DEFAULT_PASSWORD)
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/auth/totp/replace")
    assert posted
    assert DEFAULT_PASSWORD not in posted[0]  # only what the browser derived from it
    new_secret = page.locator("[data-totp-secret]").inner_text().strip()
    assert new_secret != old_secret
    assert page.locator("[data-old-app-works]").is_visible()
    page.fill("input[name=code]", pyotp.TOTP(new_secret).at(int(time.time()) + 30))
    page.locator("form[data-totp-confirm] button[type=submit]").click()
    page.wait_for_url(f"{base}/auth/account*")
    assert page.locator(".flash-success").is_visible()
    db.session.refresh(user)
    assert user.totp_secret == new_secret
    assert db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "auth.totp_replaced", AuditEvent.target_id == str(user.id))
    )
    assert errors == []
    context.close()


def test_the_recovery_codes_page_prints_and_asks_before_the_codes_are_lost(
    app: Flask, live_server: Any, browser: Any
) -> None:
    user = make_user(Role.CASEWORKER)
    base = live_server.url
    context = signed_in_context(browser, app, base, user)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    dialogs: list[str] = []

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()  # "stay on this page"

    page.on("dialog", answer)
    page.goto(f"{base}/auth/account")
    page.click("button[data-regenerate-recovery]")
    page.click("button[data-confirm-button]")  # "the codes you have now stop working"
    page.wait_for_selector("[data-recovery-code]")
    # The print button and the question before leaving come from recovery-codes.js, at the
    # end of the page: the codes are parsed before it has run.
    page.wait_for_load_state("load")
    shown = page.url
    assert user.email in page.locator("[data-codes-account]").inner_text()  # on paper too
    print_button = page.locator("button[data-print-codes]")
    assert print_button.is_visible()
    # The browser's print dialog is not ours to test: count the calls instead.
    page.evaluate("() => { window.print = () => { window.printed = (window.printed || 0) + 1; }; }")
    print_button.click()
    assert page.evaluate("window.printed") == 1
    # Another language would leave the page (and lose the codes): the browser asks first.
    page.locator(".language-switch a[hreflang=zh-Hant]").click()
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert page.url == shown
    assert page.locator("[data-recovery-code]").count() == 10
    # Kept: leaving is quiet.
    page.click("a[data-codes-kept]")
    page.wait_for_url(f"{base}/auth/account")
    assert dialogs == ["beforeunload"]
    assert errors == []
    context.close()


def test_without_javascript_the_recovery_codes_page_shows_no_print_button(
    app: Flask, live_server: Any, browser: Any
) -> None:
    user = make_user(Role.CASEWORKER)
    base = live_server.url
    context = signed_in_context(browser, app, base, user, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/auth/account")
    page.click("button[data-regenerate-recovery]")
    page.click("button[data-confirm-button]")  # "the codes you have now stop working"
    page.wait_for_selector("[data-recovery-code]")
    assert page.locator("[data-recovery-code]").count() == 10
    assert not page.locator("button[data-print-codes]").is_visible()
    context.close()
