"""Real Chromium: keys are made, wrapped and unlocked in the browser, and Python's wrapping (the
CLI path) is byte-compatible with the browser's."""

from __future__ import annotations

import base64
import os
import time
from typing import Any
from urllib.parse import quote, quote_plus

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import KeyGrant, OrgKey, Role, StaffSession, User
from intake.services import keys, setup_token
from tests.browser_steps import (
    confirm_totp_in_page,
    drop_carried_key,
    finish_unlock,
    sign_in_and_unlock,
)
from tests.builders import (
    DEFAULT_PASSWORD,
    give_key,
    make_case,
    make_org_key,
    make_staff_with_keys,
)

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "first.admin@example.org"

ORG_PUBLIC_KEY_JS = """async (id) => {
  const pair = await window.RefugeKeyring.orgKeyPair(id);
  if (!pair) { return null; }
  await window.sodium.ready;
  const pub = window.sodium.to_base64(pair.publicKey, window.sodium.base64_variants.ORIGINAL);
  const derived = window.sodium.to_base64(window.sodium.crypto_scalarmult_base(pair.privateKey),
                                          window.sodium.base64_variants.ORIGINAL);
  return {pub, derived, unlocked: window.RefugeKeyring.isUnlocked(),
          current: window.RefugeKeyring.currentOrgKeyId()};
}"""


def record_request_bodies(page: Any) -> list[str]:
    """Every request body this page sends (forms, fetches), as the server would receive it."""
    bodies: list[str] = []
    page.on("request", lambda request: bodies.append(request.post_data or ""))
    return bodies


def password_forms(password: str) -> set[str]:
    """The password as it could appear in a body: raw, URL-encoded, base64 (either alphabet,
    with or without padding) and hex."""
    raw = password.encode("utf-8")
    forms = {password, quote(password), quote_plus(password), raw.hex(), raw.hex().upper()}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms |= {text, text.rstrip("="), quote(text), quote_plus(text)}
    return forms


def assert_password_never_sent(bodies: list[str], password: str) -> None:
    assert any(bodies), "no request body was recorded"
    for body in bodies:
        for form in password_forms(password):
            assert form not in body, f"the password left the browser: {body[:200]}"


def admin_with_org_key(app: Flask) -> tuple[User, OrgKey]:
    """An admin and the organisation key, made as an operator would (`users create`, `keys
    init`); the admin has an authenticator app."""
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["users", "create", ADMIN_EMAIL, "--role", "admin", "--password-stdin"],
        input=DEFAULT_PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output
    initialised = runner.invoke(
        args=["keys", "init", "--admin", ADMIN_EMAIL, "--password-stdin"],
        input=DEFAULT_PASSWORD + "\n",
    )
    assert initialised.exit_code == 0, initialised.output
    db.session.expire_all()
    admin = db.session.scalar(sa.select(User).where(User.email == ADMIN_EMAIL))
    org_key = db.session.scalar(sa.select(OrgKey))
    assert admin is not None
    assert admin.totp_secret
    assert org_key is not None
    return admin, org_key


def test_setup_in_browser_creates_keys_that_unlock_after_password_and_totp(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    bodies = record_request_bodies(page)
    page.goto(f"{base}/setup?token={setup_token.issue()}")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("#password", DEFAULT_PASSWORD)
    page.fill("#confirm", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    # The recovery kit is shown once and must be confirmed before the form is posted.
    page.locator("[data-recovery-key]").wait_for(state="visible", timeout=30_000)
    kit_key = (page.locator("[data-recovery-key]").text_content() or "").strip()
    page.fill("#recovery-confirm-input", " ".join(kit_key.split("-")[-2:]))
    page.click("form[data-recovery-confirm] button[type=submit]")
    fingerprint = page.locator("[data-org-fingerprint]").text_content(timeout=30_000)
    totp_secret = (page.locator("[data-totp-secret]").text_content() or "").strip()
    assert page.locator("[data-otpauth-uri]").text_content().startswith("otpauth://totp/")
    confirm_totp_in_page(page, totp_secret)

    db.session.expire_all()
    admin = db.session.scalar(sa.select(User).where(User.email == ADMIN_EMAIL))
    org_key = db.session.scalar(sa.select(OrgKey))
    assert admin is not None
    assert admin.role is Role.ADMIN
    assert org_key is not None
    assert fingerprint
    assert fingerprint.strip() == org_key.fingerprint
    assert admin.totp_secret == totp_secret
    grant = db.session.scalar(sa.select(KeyGrant))
    assert grant is not None
    assert grant.user_id == admin.id
    assert grant.org_key_id == org_key.id
    # The server holds only public keys and wrapped / sealed blobs of the right sizes.
    assert admin.public_key
    assert admin.wrapped_secret_key
    assert admin.key_salt

    # /setup is gone once an account exists.
    assert page.goto(f"{base}/setup").status == 404

    sign_in_and_unlock(page, base, ADMIN_EMAIL, DEFAULT_PASSWORD, totp_secret)
    result = page.evaluate(ORG_PUBLIC_KEY_JS, org_key.id)
    assert result == {
        "pub": org_key.public_key,
        "derived": org_key.public_key,
        "unlocked": True,
        "current": org_key.id,
    }
    assert page.locator("[data-lock-status]").text_content() == "Keys unlocked"

    # The lock button forgets the keys in this tab.
    page.click("[data-lock-button]")
    assert page.evaluate("window.RefugeKeyring.isUnlocked()") is False
    assert page.evaluate(ORG_PUBLIC_KEY_JS, org_key.id) is None
    assert page.evaluate("Object.keys(window.sessionStorage)") == []
    assert not errors, errors
    # Setup, sign-in and unlock: the password never left the browser.
    assert_password_never_sent(bodies, DEFAULT_PASSWORD)


def test_keys_wrapped_by_the_cli_unwrap_in_the_browser(
    app: Flask, live_server: Any, page: Any
) -> None:
    admin, org_key = admin_with_org_key(app)

    sign_in_and_unlock(page, live_server.url, ADMIN_EMAIL, DEFAULT_PASSWORD, admin.totp_secret)
    result = page.evaluate(ORG_PUBLIC_KEY_JS, org_key.id)
    assert result["pub"] == org_key.public_key
    assert result["derived"] == org_key.public_key


def test_wrong_password_does_not_unlock(app: Flask, live_server: Any, page: Any) -> None:
    admin, _ = admin_with_org_key(app)
    base = live_server.url
    page.goto(f"{base}/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.fill("input[name=code]", pyotp.TOTP(admin.totp_secret or "").now())
    drop_carried_key(page)  # the unlock page, as after an idle lock: it asks for the password
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/auth/unlock*")
    page.fill("#unlock-password", "not the password at all")
    page.click("form.unlock-page-form button[type=submit]")
    error = page.locator("form.unlock-page-form [data-unlock-error]")
    error.wait_for(state="visible")
    assert "does not open" in (error.text_content() or "")
    assert page.evaluate("window.RefugeKeyring.isUnlocked()") is False


def test_invited_colleague_gets_the_org_key_from_an_admins_browser(
    app: Flask, browser: Any, live_server: Any, page: Any
) -> None:
    """The whole invitation: admin invites, the colleague's browser makes their keypair, the
    admin's browser seals the organisation key to it, and the colleague unlocks it."""
    admin, org_key = admin_with_org_key(app)
    base = live_server.url

    sign_in_and_unlock(page, base, ADMIN_EMAIL, DEFAULT_PASSWORD, admin.totp_secret)
    page.goto(f"{base}/admin/users")
    page.fill("input[name=email]", "colleague@example.org")
    page.select_option("select[name=role]", "caseworker")
    page.click("form[action='/admin/users'] button[type=submit]")
    link = (page.locator("[data-enrol-link]").text_content() or "").strip()
    assert "/auth/enrol/" in link

    colleague_context = browser.new_context(locale="en-GB")
    colleague_page = colleague_context.new_page()
    colleague_page.set_default_timeout(15_000)
    colleague_password = "the colleague's own long passphrase"
    colleague_bodies = record_request_bodies(colleague_page)
    colleague_page.goto(link)
    colleague_page.fill("#password", colleague_password)
    colleague_page.fill("#confirm", colleague_password)
    colleague_page.click("main button[type=submit]")
    colleague_secret = (
        colleague_page.locator("[data-totp-secret]").text_content(timeout=30_000) or ""
    ).strip()
    confirm_totp_in_page(colleague_page, colleague_secret)

    page.goto(f"{base}/admin/keys")
    page.click("form[data-grant-form] button[type=submit]")
    page.wait_for_url(f"{base}/admin/keys")
    assert "can now open cases" in (page.locator(".flashes").text_content() or "")

    colleague_page.wait_for_timeout(1_000)  # the next TOTP step is not needed: new account
    sign_in_and_unlock(
        colleague_page, base, "colleague@example.org", colleague_password, colleague_secret
    )
    result = colleague_page.evaluate(ORG_PUBLIC_KEY_JS, org_key.id)
    assert result["pub"] == org_key.public_key
    assert result["derived"] == org_key.public_key
    colleague_context.close()
    # Invitation acceptance, sign-in and unlock: the password never left the browser.
    assert_password_never_sent(colleague_bodies, colleague_password)


def test_change_password_in_the_browser_rewraps_the_key(
    app: Flask, live_server: Any, page: Any
) -> None:
    admin, org_key = admin_with_org_key(app)
    base = live_server.url
    bodies = record_request_bodies(page)
    sign_in_and_unlock(page, base, ADMIN_EMAIL, DEFAULT_PASSWORD, admin.totp_secret)
    new_password = "an entirely different passphrase"
    page.goto(f"{base}/auth/account")
    page.fill("#current_password", DEFAULT_PASSWORD)
    page.fill("#password", new_password)
    page.fill("#confirm", new_password)
    page.click("form[data-rewrap-form] button[type=submit]")
    page.wait_for_url(f"{base}/auth/account")
    assert "password is changed" in (page.locator(".flashes").text_content() or "")
    # The password change ended every session, this one too (it goes on in a new one): the
    # keyring this tab held was encrypted with the old session's tab key, so it is gone.
    assert page.evaluate("window.RefugeKeyring.isUnlocked()") is False
    assert page.evaluate("Object.keys(window.sessionStorage)") == []
    page.click("[data-unlock-panel] summary")
    page.fill("#lock-state-password", new_password)
    page.click("form.unlock-form button[type=submit]")
    page.wait_for_selector("#lock-state.is-unlocked", state="attached")
    assert page.evaluate(ORG_PUBLIC_KEY_JS, org_key.id)["pub"] == org_key.public_key
    assert_password_never_sent(bodies, DEFAULT_PASSWORD)
    assert_password_never_sent(bodies, new_password)


def test_keyring_locks_itself_after_idle_time(app: Flask, live_server: Any, page: Any) -> None:
    admin, _ = admin_with_org_key(app)
    app.config["KEYRING_IDLE_MINUTES"] = 0.02  # 1.2 seconds
    sign_in_and_unlock(page, live_server.url, ADMIN_EMAIL, DEFAULT_PASSWORD, admin.totp_secret)
    page.wait_for_timeout(2_000)
    page.reload()
    assert page.evaluate("window.RefugeKeyring.isUnlocked()") is False
    assert page.locator("[data-lock-status]").text_content() == "Keys locked"


def rotate_in_page(page: Any, base: str, old_key: OrgKey) -> OrgKey:
    """Rotate from the open /admin/keys page (the rotation asks for confirmation): the new
    current key, once the page says so."""
    page.check("input[name=understood]")
    page.click("form[data-rotate-form] button[type=submit]")
    page.wait_for_url(f"{base}/admin/keys")
    assert "rotated" in (page.locator(".flashes").text_content() or "")
    db.session.expire_all()
    new_key = db.session.scalar(sa.select(OrgKey).where(OrgKey.retired_at.is_(None)))
    assert new_key is not None
    assert new_key.id != old_key.id
    return new_key


def test_rotation_in_the_browser_gives_holders_the_new_key(
    app: Flask, live_server: Any, page: Any
) -> None:
    admin, old_key = admin_with_org_key(app)
    base = live_server.url
    sign_in_and_unlock(page, base, ADMIN_EMAIL, DEFAULT_PASSWORD, admin.totp_secret)
    page.goto(f"{base}/admin/keys")
    new_key = rotate_in_page(page, base, old_key)
    # The keyring stays unlocked and fetches the new grant as the page shows the new key.
    assert page.evaluate("window.RefugeKeyring.isUnlocked()") is True
    page.wait_for_function(f"window.RefugeKeyring.currentOrgKeyId() === {new_key.id}")
    assert page.evaluate(ORG_PUBLIC_KEY_JS, new_key.id)["pub"] == new_key.public_key
    assert page.evaluate(ORG_PUBLIC_KEY_JS, old_key.id)["pub"] == old_key.public_key
    assert page.evaluate("window.RefugeKeyring.currentOrgKeyId()") == new_key.id


def test_a_rotation_the_server_refuses_can_be_tried_again_at_once(
    app: Flask, live_server: Any, page: Any
) -> None:
    """The keyring was locked before the rotation was posted: when the server refused it (a
    colleague was given the key meanwhile, so the page's list of holders was out of date) the
    page said to try again, and trying again said to unlock first (a review). The keyring now
    stays unlocked, and the page the refusal shows rotates with the list as it is now."""
    admin, old_key = admin_with_org_key(app)
    base = live_server.url
    sign_in_and_unlock(page, base, ADMIN_EMAIL, DEFAULT_PASSWORD, admin.totp_secret)
    page.goto(f"{base}/admin/keys")
    # While the admin's page was open, a colleague was given the key (by another admin).
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, email="late@example.org")
    sealed = crypto.seal_key_grant(os.urandom(32), colleague.public_key or "")
    keys.write_grant(old_key, colleague, sealed, admin)
    db.session.commit()
    page.check("input[name=understood]")
    page.click("form[data-rotate-form] button[type=submit]")
    page.wait_for_load_state()
    assert "rotated" not in (page.locator(".flashes").text_content() or "")
    assert page.evaluate("window.RefugeKeyring.isUnlocked()") is True
    new_key = rotate_in_page(page, base, old_key)
    holders = set(
        db.session.scalars(sa.select(KeyGrant.user_id).where(KeyGrant.org_key_id == new_key.id))
    )
    assert holders == {admin.id, colleague.id}
    # The refused post's address, opened again, is the keys page, not "Method Not Allowed".
    page.goto(f"{base}/admin/keys/rotate")
    assert page.url == f"{base}/admin/keys"


OPEN_BLOB_JS = """async ([blob, tabKey]) => {
  await window.sodium.ready;
  const s = window.sodium, v = s.base64_variants.ORIGINAL;
  const state = JSON.parse(blob);
  const plain = s.crypto_secretbox_open_easy(
    s.from_base64(state.box, v), s.from_base64(state.nonce, v), s.from_base64(tabKey, v));
  return JSON.parse(new TextDecoder().decode(plain));
}"""

ORG_SECRET_JS = """async (id) => {
  const pair = await window.RefugeKeyring.orgKeyPair(id);
  await window.sodium.ready;
  return window.sodium.to_base64(pair.privateKey, window.sodium.base64_variants.ORIGINAL);
}"""

TAB_KEY_FETCH_JS = """async () => {
  const r = await fetch("/auth/keyring/tab-key", {headers: {"X-Refuge-Keyring": "1"}});
  return {redirected: r.redirected, type: r.headers.get("Content-Type"), text: await r.text()};
}"""


def test_what_the_tab_leaves_on_disk_cannot_be_opened_after_sign_out(
    app: Flask, browser: Any, live_server: Any, page: Any
) -> None:
    """sessionStorage is written to the profile for session restore, so a lost laptop has it.
    It holds only a blob encrypted with the session's tab key, which the server wipes at
    sign-out: the blob and the cookie together give nothing afterwards."""
    admin, org_key = admin_with_org_key(app)
    base = live_server.url
    sign_in_and_unlock(page, base, ADMIN_EMAIL, DEFAULT_PASSWORD, admin.totp_secret)
    org_secret = page.evaluate(ORG_SECRET_JS, org_key.id)
    disk = page.evaluate("JSON.stringify(window.sessionStorage)")
    cookies = page.context.cookies()
    assert len(org_secret) == 44
    # No raw key in storage: not the organisation secret, not any 32-byte key in base64.
    assert org_secret not in disk
    stored = page.evaluate("Object.assign({}, window.sessionStorage)")
    blob = stored["refuge.keyring.v2"]
    assert set(stored) == {"refuge.keyring.v2", "refuge.keyring.activity"}
    assert "privateKey" not in blob
    assert "refuge.keyring.v1" not in stored

    # The blob is the keys, sealed with this session's tab key (and with nothing else).
    db.session.expire_all()
    [record] = db.session.scalars(sa.select(StaffSession).where(StaffSession.revoked_at.is_(None)))
    assert record.tab_key
    opened = page.evaluate(OPEN_BLOB_JS, [blob, record.tab_key])
    assert opened["orgKeys"][str(org_key.id)]["privateKey"] == org_secret

    # A reload (a new page) opens the blob again through the server's tab key.
    page.reload()
    assert page.evaluate(ORG_SECRET_JS, org_key.id) == org_secret

    page.click("header form[action='/logout'] button[type=submit]")
    page.wait_for_url(f"{base}/login*")
    db.session.refresh(record)
    assert record.revoked_at is not None
    assert record.tab_key is None

    # The thief: the restored storage and the cookie jar, in a new browser.
    thief = browser.new_context(locale="en-GB")
    thief.add_cookies(cookies)
    thief_page = thief.new_page()
    thief_page.goto(f"{base}/login")
    thief_page.evaluate("(blob) => window.sessionStorage.setItem('refuge.keyring.v2', blob)", blob)
    answer = thief_page.evaluate(TAB_KEY_FETCH_JS)
    assert answer["redirected"] is True
    assert "tab_key" not in answer["text"]
    thief_page.goto(f"{base}/cases/")
    assert "/login" in thief_page.url
    thief.close()


def test_an_account_of_the_old_scheme_migrates_at_sign_in_and_keeps_its_keys(
    app: Flask, live_server: Any, page: Any
) -> None:
    org = make_org_key()
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="old@example.org", legacy=True)
    assert user.totp_secret
    base = live_server.url
    bodies = record_request_bodies(page)
    sign_in_and_unlock(page, base, user.email, DEFAULT_PASSWORD, user.totp_secret)
    assert page.evaluate(ORG_PUBLIC_KEY_JS, org.key.id)["derived"] == org.public
    # The upgrade sign-in posted the password one last time (what the old scheme did every
    # time): the recorder sees it there, and nowhere else.
    with_password = [body for body in bodies if quote_plus(DEFAULT_PASSWORD) in body]
    assert len(with_password) == 1
    assert "legacy_password=" in with_password[0]
    db.session.expire_all()
    migrated = db.session.get(User, user.id)
    assert migrated is not None
    assert (migrated.password_scheme, migrated.key_scheme) == (2, 2)

    # From now on the password never leaves the browser, and the re-wrapped key opens.
    page.click("header form[action='/logout'] button[type=submit]")
    page.wait_for_url(f"{base}/login*")
    later = record_request_bodies(page)
    page.fill("input[name=email]", user.email)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/login/code")
    # The next step's code: this step's was used by the first sign-in (replay protection).
    page.fill("input[name=code]", pyotp.TOTP(user.totp_secret).at(time.time() + 30))
    page.click("main button[type=submit]")
    # The key re-wrapped at the first unlock opens with the password typed at /login.
    page.wait_for_url(lambda url: "/login/code" not in url)
    finish_unlock(page, base, DEFAULT_PASSWORD)
    assert page.evaluate(ORG_PUBLIC_KEY_JS, org.key.id)["derived"] == org.public
    assert_password_never_sent(later, DEFAULT_PASSWORD)


def test_a_colleague_without_a_grant_is_not_told_their_keys_open_cases(
    app: Flask, live_server: Any, page: Any
) -> None:
    """Unlocked keys without the organisation key read cases no better than locked ones: the
    header says so (not the green "Keys unlocked"), until an admin's grant reaches the tab."""
    org = make_org_key()
    make_case(org)
    user, _ = make_staff_with_keys(Role.CASEWORKER, None, email="new.colleague@example.org")
    base = live_server.url
    sign_in_and_unlock(page, base, user.email, DEFAULT_PASSWORD, user.totp_secret)
    status = page.locator("[data-lock-status]")
    assert status.text_content() == "Keys unlocked, but no access to cases yet"
    assert "has-no-case-key" in (page.get_attribute("#lock-state", "class") or "")
    colours = page.evaluate(
        """() => {
          const status = getComputedStyle(document.querySelector("[data-lock-status]"));
          const probe = document.createElement("span");
          probe.style.color = "var(--ok)";
          document.body.appendChild(probe);
          return [status.color, getComputedStyle(probe).color];
        }"""
    )
    assert colours[0] != colours[1], "shown in the green of keys that open cases"

    give_key(user, org)
    page.reload()  # the queue asks for the key its rows are sealed to: the tab fetches the grant
    page.wait_for_function(
        "() => document.querySelector('[data-lock-status]').textContent === 'Keys unlocked'"
    )
    assert "has-no-case-key" not in (page.get_attribute("#lock-state", "class") or "")
    assert page.evaluate(ORG_PUBLIC_KEY_JS, org.key.id)["derived"] == org.public
