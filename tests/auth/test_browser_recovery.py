"""Real Chromium: the recovery kit made at setup brings a lone admin's cases back after a
forgotten password; rotation seals to it; a grant reaches an already-unlocked tab; the warning
for a lone key holder. The recovery key never appears in a request body."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import KeyGrant, OrgKey, RecoveryKit, RecoverySeal, Role, User
from intake.services import setup_token
from tests.auth.test_browser_keys import assert_password_never_sent, record_request_bodies
from tests.browser_steps import confirm_totp_in_page, sign_in_and_unlock
from tests.builders import (
    DEFAULT_PASSWORD,
    OrgKeyPair,
    make_case,
    make_org_key,
    make_staff_with_keys,
)

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "lone.admin@example.org"
CANARY = "CANARY-7f3a"
# Screenshots at 360 and 1280 px, to look at, when REFUGE_SCREENSHOTS names a folder.
SHOTS = os.environ.get("REFUGE_SCREENSHOTS")


def read_and_confirm_kit(page: Any) -> str:
    """The recovery key shown once; its last two groups typed back."""
    node = page.locator("[data-recovery-key]")
    node.wait_for(state="visible", timeout=30_000)
    key = (node.text_content() or "").strip()
    assert crypto.normalise_recovery_key(key), key
    groups = key.split("-")
    page.fill("#recovery-confirm-input", "WRONG")
    page.click("form[data-recovery-confirm] button[type=submit]")
    assert page.locator("[data-recovery-confirm-error]").is_visible()
    page.fill("#recovery-confirm-input", " ".join(groups[-2:]).lower())
    page.click("form[data-recovery-confirm] button[type=submit]")
    return key


def assert_never_sent(bodies: list[str], key: str) -> None:
    normalised = key.replace("-", "")
    for body in bodies:
        for form in (key, normalised, normalised.lower(), " ".join(key.split("-"))):
            assert form not in body, f"the recovery key left the browser: {body[:200]}"


def case_opens(page: Any, base: str, ref: str) -> None:
    page.goto(f"{base}/cases/{ref}")
    page.wait_for_selector("#case-lock[data-state=unlocked]", timeout=30_000)
    assert CANARY in (page.locator("main").text_content() or "")


def screenshot(page: Any, name: str) -> None:
    if not SHOTS:
        return
    Path(SHOTS).mkdir(exist_ok=True)
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def assert_groups_never_break(page: Any) -> None:
    """On a 360 px phone the key wraps between groups, never inside one (a group split over
    two lines is misread when copied by hand)."""
    page.set_viewport_size({"width": 360, "height": 900})
    heights = page.eval_on_selector_all(
        "[data-recovery-key] span",
        "spans => spans.map(s => s.getClientRects().length)",
    )
    lines = page.eval_on_selector(
        "[data-recovery-key]",
        "node => new Set([...node.querySelectorAll('span')].map(s => s.offsetTop)).size",
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    assert len(heights) == 8, heights
    assert all(rects == 1 for rects in heights), heights
    assert lines > 1  # it does wrap at 360 px, between groups


def test_a_lone_admin_who_forgot_the_password_gets_every_case_back_with_the_kit(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    bodies = record_request_bodies(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # First run: the kit is shown once, and setup finishes only after it was confirmed.
    page.goto(f"{base}/setup?token={setup_token.issue()}")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("#password", DEFAULT_PASSWORD)
    page.fill("#confirm", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.locator("[data-recovery-key]").wait_for(state="visible", timeout=30_000)
    screenshot(page, "setup-kit")
    assert_groups_never_break(page)
    kit_key = read_and_confirm_kit(page)
    page.locator("[data-org-fingerprint]").wait_for(timeout=30_000)
    totp_secret = (page.locator("[data-totp-secret]").text_content() or "").strip()
    confirm_totp_in_page(page, totp_secret)
    db.session.expire_all()
    kit = db.session.scalar(sa.select(RecoveryKit))
    assert kit is not None
    assert kit.confirmed_at is not None
    assert (
        kit.public_key == crypto.recovery_keypair(crypto.normalise_recovery_key(kit_key) or "")[0]
    )
    old_key = db.session.scalar(sa.select(OrgKey))
    assert old_key is not None
    first_case = make_case(
        OrgKeyPair(key=old_key, secret=b""), {"what_happened": f"{CANARY} before rotation"}
    )

    # Rotation (confirmed with the box) seals the new key to the kit as well.
    time.sleep(1)
    sign_in_and_unlock(page, base, ADMIN_EMAIL, DEFAULT_PASSWORD, totp_secret)
    page.goto(f"{base}/admin/keys")
    assert page.locator("[data-custody-warning]").count() == 0
    page.check("input[name=understood]")
    page.click("form[data-rotate-form] button[type=submit]")
    page.wait_for_url(f"{base}/admin/keys")
    assert "Publish this new fingerprint" in (page.locator(".flashes").text_content() or "")
    db.session.expire_all()
    new_key = db.session.scalar(sa.select(OrgKey).where(OrgKey.retired_at.is_(None)))
    assert new_key is not None
    assert new_key.fingerprint in (page.locator(".flashes").text_content() or "")
    assert {seal.org_key_id for seal in db.session.scalars(sa.select(RecoverySeal))} == {
        old_key.id,
        new_key.id,
    }
    second_case = make_case(
        OrgKeyPair(key=new_key, secret=b""), {"what_happened": f"{CANARY} after rotation"}
    )

    # The password is forgotten: the operator gives access back (not the key).
    result = app.test_cli_runner().invoke(args=["users", "reset-password", ADMIN_EMAIL])
    assert result.exit_code == 0, result.output
    link = json.loads(result.output)["link"]
    page.context.clear_cookies()
    new_password = "a brand new long passphrase, written down this time"
    page.goto(base + urlparse(link).path)
    page.fill("#password", new_password)
    page.fill("#confirm", new_password)
    page.click("main button[type=submit]")
    page.wait_for_selector("#confirm", state="detached", timeout=30_000)
    # Gone as soon as the next page starts: count on that page once it is all there.
    page.wait_for_load_state("load")
    if page.locator("[data-totp-secret]").count():
        totp_secret = (page.locator("[data-totp-secret]").text_content() or "").strip()
        confirm_totp_in_page(page, totp_secret)
    time.sleep(1)
    sign_in_and_unlock(page, base, ADMIN_EMAIL, new_password, totp_secret)

    # Unlocked, but with no key: the case cannot be read until the kit is used.
    page.goto(f"{base}/recover")
    screenshot(page, "recover")
    page.fill("#recovery-input", crypto.new_recovery_key())
    page.click("form[data-recover] button[type=submit]")
    error = page.locator("[data-recover-error]")
    error.wait_for(state="visible", timeout=30_000)  # the check runs Argon2-free but async
    assert "not the recovery key" in (error.text_content() or "")
    page.fill("#recovery-input", kit_key.lower().replace("-", " "))
    page.click("form[data-recover] button[type=submit]")
    new_kit_key = read_and_confirm_kit(page)
    assert new_kit_key != kit_key
    page.locator("[data-recover-done]").wait_for(state="visible", timeout=30_000)
    screenshot(page, "recover-done")
    db.session.expire_all()
    kits = list(db.session.scalars(sa.select(RecoveryKit).order_by(RecoveryKit.id)))
    assert kits[0].retired_at is not None
    assert kits[-1].retired_at is None
    assert kits[-1].confirmed_at is not None
    admin = db.session.scalar(sa.select(User).where(User.email == ADMIN_EMAIL))
    assert admin is not None
    held = set(
        db.session.scalars(
            sa.select(KeyGrant.org_key_id).where(
                KeyGrant.user_id == admin.id, KeyGrant.revoked_at.is_(None)
            )
        )
    )
    assert held == {old_key.id, new_key.id}

    # The same tab, without unlocking again, reads the cases from before and after rotation.
    case_opens(page, base, first_case.ref)
    case_opens(page, base, second_case.ref)
    assert_never_sent(bodies, kit_key)
    assert_never_sent(bodies, new_kit_key)
    assert_password_never_sent(bodies, new_password)
    assert not errors, errors


def test_the_warning_stays_until_a_kit_is_confirmed(
    app: Flask, live_server: Any, page: Any
) -> None:
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="alone@example.org")
    base = live_server.url
    bodies = record_request_bodies(page)
    sign_in_and_unlock(page, base, admin.email, DEFAULT_PASSWORD, admin.totp_secret or "")
    for path in ("/admin/", "/admin/users", "/admin/keys"):
        page.goto(base + path)
        assert page.locator("[data-custody-warning]").is_visible(), path
    screenshot(page, "admin-keys-warning")
    make_first = page.locator("form[data-make-kit] button[type=submit]")
    assert "secondary" not in (make_first.get_attribute("class") or "")
    page.click("form[data-make-kit] button[type=submit]")
    page.locator("[data-recovery-key]").wait_for(state="visible", timeout=30_000)
    screenshot(page, "admin-keys-kit")
    key = read_and_confirm_kit(page)
    page.wait_for_url(f"{base}/admin/keys?kit=confirmed")
    assert page.locator("[data-custody-warning]").count() == 0
    assert page.locator("[data-recovery-kit-state=confirmed]").is_visible()
    # Making another now retires this one: offered, not as the page's filled button.
    make_again = page.locator("form[data-make-kit] button[type=submit]")
    assert "secondary" in (make_again.get_attribute("class") or "")
    db.session.expire_all()
    kit = db.session.scalar(sa.select(RecoveryKit))
    assert kit is not None
    assert kit.confirmed_at is not None
    assert kit.public_key == crypto.recovery_keypair(crypto.normalise_recovery_key(key) or "")[0]
    assert_never_sent(bodies, key)


def test_a_granted_colleague_reads_a_new_case_in_the_tab_already_unlocked(
    app: Flask, browser: Any, live_server: Any, page: Any
) -> None:
    old = make_org_key()
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, old, email="colleague@example.org")
    base = live_server.url
    sign_in_and_unlock(page, base, colleague.email, DEFAULT_PASSWORD, colleague.totp_secret or "")
    # After the colleague's tab was unlocked: a new key, granted to them (as an admin's browser
    # or a rotation does), and a case sealed to it.
    newer = make_org_key()
    db.session.add(
        KeyGrant(
            org_key_id=newer.key.id,
            user_id=colleague.id,
            sealed_org_secret=crypto.seal_key_grant(newer.secret, colleague.public_key or ""),
        )
    )
    db.session.commit()
    case = make_case(newer, {"what_happened": f"{CANARY} sealed to the new key"})
    case_opens(page, base, case.ref)


@pytest.mark.parametrize(
    ("locale", "words"),
    [("en", "Enter a valid e-mail address."), ("zh_Hant", "請輸入有效的電子郵件地址。")],
)
def test_setup_refuses_an_address_before_it_makes_the_kit(
    app: Flask, live_server: Any, page: Any, locale: str, words: str
) -> None:
    """An address the server would refuse was refused only after the recovery kit had been
    shown, saved and confirmed: that kit was worthless, and the next try made another (a
    Chromium review of the admin's path). Now the browser checks it first, beside the field."""
    base = live_server.url
    page.goto(f"{base}/setup?token={setup_token.issue()}&lang={locale}")
    for address in ("not-an-email", "", "admin@localhost"):
        page.fill("input[name=email]", address)
        page.fill("#password", DEFAULT_PASSWORD)
        page.fill("#confirm", DEFAULT_PASSWORD)
        page.click("main button[type=submit]")
        error = page.locator("[data-email-error]")
        assert error.is_visible(), address
        assert error.inner_text() == words
        assert page.evaluate("document.activeElement.name") == "email"
        assert page.get_attribute("input[name=email]", "aria-invalid") == "true"
        assert page.locator("[data-recovery-key]").is_hidden()
        assert page.locator("[data-recovery-panel]").is_hidden()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
    # Mended, the error goes and the kit is made.
    page.fill("input[name=email]", " Lone.Admin@Example.org ")
    page.click("main button[type=submit]")
    assert page.locator("[data-email-error]").is_hidden()
    page.locator("[data-recovery-key]").wait_for(state="visible", timeout=30_000)


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_while_the_kit_is_shown_no_language_link_or_reload_loses_it(
    app: Flask, live_server: Any, page: Any, locale: str
) -> None:
    """A language link beside the new recovery key reloaded /setup empty, without a word: the
    next try drew another key, and the one already printed or downloaded opened nothing (an
    admin's walkthrough). While the key is shown the links give way to a note, and leaving
    asks first; once the key is confirmed kept, nothing holds the page."""
    base = live_server.url
    page.goto(f"{base}/setup?token={setup_token.issue()}&lang={locale}")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("#password", DEFAULT_PASSWORD)
    page.fill("#confirm", DEFAULT_PASSWORD)
    languages = page.locator("nav.language-switch")
    assert languages.is_visible()
    page.click("main button[type=submit]")
    page.locator("[data-recovery-key]").wait_for(state="visible", timeout=30_000)
    assert languages.is_hidden()
    note = page.locator("[data-recovery-panel] [data-language-later]")
    assert note.is_visible()
    words = {
        "en": "change the language after this step",
        "zh_Hans": "请在完成这一步之后再切换语言",
    }[locale]
    assert words in note.inner_text()

    asked: list[str] = []

    def stay(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # "stay on this page"

    page.on("dialog", stay)
    shown = page.locator("[data-recovery-key]").inner_text()
    page.evaluate("window.location.reload()")
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.locator("[data-recovery-key]").inner_text() == shown  # still the same key
    page.remove_listener("dialog", stay)

    read_and_confirm_kit(page)
    page.locator("[data-org-fingerprint]").wait_for(timeout=30_000)
    assert asked == ["beforeunload"]  # the setup's own post did not ask
