"""Steps a person takes in the browser, shared by the Playwright tests: signing in with the
password and the authenticator app, unlocking the keys, confirming a new app, and the checks
every staff panel gets (axe, the clipboard)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp

from intake.models import User
from tests.builders import DEFAULT_PASSWORD

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"


# Where login.js keeps the key-wrapping key from /login until the unlock page uses it
# (static/js/keyring.js, "the wrapping key carried from the sign-in page").
CARRIED_KEY = "refuge.login.wrapping-key.v1"

# On the unlock page: "unlocking" while it opens the keys with the carried key (then it goes on
# by itself), "ask" once it asks for the password; on any other page, "left".
UNLOCK_PAGE_STATE_JS = f"""() => {{
  if (location.pathname !== "/auth/unlock") {{ return "left"; }}
  const form = document.querySelector("form[data-unlock-form][data-next]");
  if (document.readyState === "loading" || sessionStorage.getItem("{CARRIED_KEY}") !== null
      || (form && form.getAttribute("aria-busy") === "true")) {{ return "unlocking"; }}
  return form && form.hasAttribute("data-unlocked") ? "unlocked" : "ask";
}}"""


def slow_sodium_js(delay_ms: int) -> str:
    """An init script (page.add_init_script) delaying libsodium's start by ``delay_ms`` on every
    page. libsodium compiles its WebAssembly after the page's scripts have run: when they come
    from the cache (or deferred, before it), a page is wired before it is ready."""
    return """(() => {
  const delay = DELAY;
  let module;
  Object.defineProperty(window, "libsodium", {
    configurable: true,
    get() { return module; },
    set(value) {
      if (value && value.ready && !value.slowed) {
        const ready = value.ready;
        value.ready = ready.then((v) => new Promise((done) => setTimeout(() => done(v), delay)));
        value.slowed = true;
      }
      module = value;
    },
  });
})()""".replace("DELAY", str(int(delay_ms)))


def password_and_code(
    page: Any, base: str, email: str, password: str, totp_secret: str | None, next_path: str = ""
) -> None:
    """/login with the password, then the code page: left just before the code is sent."""
    page.goto(f"{base}/login?next={next_path}" if next_path else f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/login/code**")
    page.fill("input[name=code]", pyotp.TOTP(totp_secret or "").now())


def drop_carried_key(page: Any) -> None:
    """Forget the wrapping key carried from /login: the sign-in then stops at the unlock page
    with the keys locked, as every sign-in did before the password unlocked them."""
    page.evaluate(f"() => sessionStorage.removeItem('{CARRIED_KEY}')")


def sign_in(
    page: Any, base: str, email: str, password: str, totp_secret: str | None, next_path: str = ""
) -> None:
    """Password, then the authenticator app's code; stops at the unlock page, keys locked (the
    wrapping key carried from /login is dropped first, as if it had expired)."""
    password_and_code(page, base, email, password, totp_secret, next_path)
    drop_carried_key(page)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/auth/unlock**")


def sign_in_as(page: Any, base: str, user: User, next_path: str = "") -> None:
    """:func:`sign_in` as a user the builders made (the default password)."""
    sign_in(page, base, user.email, DEFAULT_PASSWORD, user.totp_secret, next_path)


def unlock_page_state(page: Any, timeout_s: float = 30.0) -> str:
    """Wait on the unlock page until it has unlocked with the password typed at /login and left
    ("left", or "unlocked" where it stays, after a recovery code), or asks for the password
    ("ask")."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            state = str(page.evaluate(UNLOCK_PAGE_STATE_JS))
        except Exception:  # noqa: BLE001 - the page navigating away while asked
            state = "unlocking"
        if state != "unlocking":
            return state
        if time.monotonic() > deadline:
            raise AssertionError("the unlock page neither unlocked nor asked for the password")
        page.wait_for_timeout(50)


def finish_unlock(page: Any, base: str, password: str, next_path: str = "") -> None:
    """After the second factor: the keys unlocked and ``next_path`` (else the queue) open,
    whether the password typed at /login unlocked them or the unlock page asks for it."""
    if unlock_page_state(page) == "ask":
        page.fill("#unlock-password", password)
        page.click("form[data-unlock-form].unlock-page-form button[type=submit]")
    page.wait_for_url(f"{base}{next_path}" if next_path else f"{base}/cases/*")
    page.wait_for_selector("#lock-state.is-unlocked", state="attached", timeout=30_000)


def sign_in_and_unlock(
    page: Any, base: str, email: str, password: str, totp_secret: str | None, next_path: str = ""
) -> None:
    """Signed in and unlocked; lands on ``next_path`` (else the queue). The password typed at
    /login unlocks the keys; where it cannot (a key of the old scheme), it is typed again."""
    password_and_code(page, base, email, password, totp_secret, next_path)
    page.click("main button[type=submit]")
    # The unlock page, or already past it: it may go on as soon as it has loaded.
    page.wait_for_url(lambda url: urlsplit(url).path != "/login/code")
    finish_unlock(page, base, password, next_path)


def unlock_in_header(page: Any, password: str = DEFAULT_PASSWORD) -> None:
    """Unlock from the header's panel, on whatever page is open."""
    page.click("[data-unlock-panel] summary")
    page.fill("#lock-state-password", password)
    page.click("form.unlock-form button[type=submit]")
    page.wait_for_selector("#lock-state.is-unlocked", state="attached", timeout=30_000)


def confirm_totp_in_page(page: Any, totp_secret: str) -> None:
    """Type a code to confirm the new authenticator app; the previous step's code, so that the
    current one is still free for the sign-in that follows (no replay)."""
    previous = pyotp.TOTP(totp_secret).at(int(time.time()) - 30)
    page.fill("form[data-totp-confirm] input[name=code]", previous)
    page.click("form[data-totp-confirm] button[type=submit]")
    page.locator("[data-recovery-code]").first.wait_for(timeout=30_000)
    assert page.locator("[data-recovery-code]").count() == 10


def in_view(page: Any, selector: str) -> bool:
    """Whether the first element ``selector`` finds is wholly inside the viewport."""
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def assert_accessible(page: Any, selector: str) -> None:
    """axe finds no violation inside ``selector`` (evaluated through the DevTools protocol, so
    the page's CSP stays on)."""
    assert AXE.exists(), "node_modules/axe-core is missing: run `npm install`"
    page.evaluate(AXE.read_text())
    found = page.evaluate(
        "async (selector) => (await axe.run({include: [[selector]]},"
        " {resultTypes: ['violations']})).violations",
        selector,
    )
    assert [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in found] == []


def assert_copied(page: Any, base: str, button: str, status: str, text: str) -> None:
    """The copy button puts exactly ``text`` on the clipboard (local, not a request)."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.click(button)
    page.wait_for_selector(f"{status}:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == text
