"""Real Chromium with a virtual authenticator (CDP WebAuthn): a passkey is registered from the
account page, signs in at the second step, and a replayed or tampered assertion is refused."""

from __future__ import annotations

import json
import re
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import AuditEvent, Passkey, Role
from tests.builders import DEFAULT_PASSWORD, make_user

pytestmark = pytest.mark.browser

POST_ASSERTION_JS = """async (credential) => {
  const token = document.querySelector("input[name=csrf_token]").value;
  const body = new FormData();
  body.append("csrf_token", token);
  body.append("credential", credential);
  const response = await fetch("/login/passkey", {method: "POST", body, credentials: "same-origin",
                                                  headers: {"X-CSRFToken": token}});
  return response.status;
}"""


def _credential_field(multipart: str) -> str:
    match = re.search(r'name="credential"\r?\n\r?\n(\{.*?\})\r?\n--', multipart, re.S)
    assert match, multipart[:200]
    return match.group(1)


def _password_step(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("#password", DEFAULT_PASSWORD)  # nameless: the browser derives what is sent
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/login/code")


def _sign_out(page: Any, base: str) -> None:
    page.goto(f"{base}/auth/account")
    page.click("header form[action='/logout'] button")
    page.wait_for_url(f"{base}/login")


def test_passkey_registers_signs_in_and_a_replayed_or_tampered_assertion_is_refused(
    app: Flask, live_server: Any, page: Any
) -> None:
    # WebAuthn needs a domain for the relying party, not an IP address: use localhost.
    base = live_server.url.replace("127.0.0.1", "localhost")
    app.config["PUBLIC_BASE_URL"] = base
    user = make_user(Role.CASEWORKER, email="passkey@example.org")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    assertions: list[str] = []
    page.on(
        "request",
        lambda request: (
            assertions.append(_credential_field(request.post_data or ""))
            if request.url.endswith("/login/passkey") and request.method == "POST"
            else None
        ),
    )

    _password_step(page, base, user.email)
    page.fill("input[name=code]", pyotp.TOTP(user.totp_secret or "").now())
    page.click("main form:not([data-passkey-sign-in]) button[type=submit]")
    page.wait_for_url(f"{base}/auth/unlock*")
    page.goto(f"{base}/auth/account")
    page.fill("#passkey-name", "Work laptop")
    # A double click made two ceremonies and saved two passkeys, one of them dead (a review).
    page.dblclick("form[data-passkey-register] button[type=submit]")
    page.wait_for_selector("[data-passkey-name]")
    assert page.locator("[data-passkey-name]").all_text_contents() == ["Work laptop"]
    db.session.expire_all()
    saved = db.session.scalars(sa.select(Passkey).where(Passkey.user_id == user.id)).all()
    assert len(saved) == 1
    passkey = saved[0]
    assert passkey.credential_id

    _sign_out(page, base)
    _password_step(page, base, user.email)
    page.click("form[data-passkey-sign-in] button[type=submit]")
    page.wait_for_url(f"{base}/auth/unlock*")
    db.session.expire_all()
    used = db.session.get(Passkey, passkey.id)
    assert used is not None
    assert used.last_used_at is not None
    assert db.session.scalar(
        sa.select(sa.func.count()).where(AuditEvent.action == "auth.passkey_used")
    )
    assert len(assertions) == 1

    # The same assertion again, on a new sign-in: its challenge is spent.
    _sign_out(page, base)
    _password_step(page, base, user.email)
    assert page.evaluate(POST_ASSERTION_JS, assertions[0]) == 401
    # A tampered one (another signature) for a fresh challenge: refused too.
    tampered = json.loads(assertions[0])
    signature = tampered["response"]["signature"]
    tampered["response"]["signature"] = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert page.evaluate(POST_ASSERTION_JS, json.dumps(tampered)) == 401
    assert page.url == f"{base}/login/code"
    assert errors == []
