"""A note typed while the sign-in ended (Sign out in another tab, the idle time-out) stays in its
box with the reason beside it, in real Chromium; and typing keeps the sign-in alive. A review
with two colleagues found the box emptied and the note lost, with only "Sign in to open this
page." to show for it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import CaseMessage, Role, StaffSession
from tests.builders import make_case, make_org_key, make_user, signed_in_context
from tests.cases.test_browser import STUB_KEYRING, wait_decrypted

pytestmark = pytest.mark.browser

NOTE = "Called the lawyer; the hearing moved to Thursday."


def _open_case(app: Flask, live_server: Any, browser: Any) -> tuple[Any, Any, Any, Any]:
    org = make_org_key()
    case = make_case(org, {"what_happened": "x"})
    user = make_user(Role.CASEWORKER)
    context = signed_in_context(browser, app, live_server.url, user, locale="en-GB")
    context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/cases/{case.ref}")
    wait_decrypted(page)
    return context, page, user, case


def _notes() -> int:
    db.session.expire_all()
    return len(db.session.scalars(sa.select(CaseMessage)).all())


@pytest.mark.parametrize("ended", ["signed out in another tab", "idle"])
def test_a_note_saved_after_the_sign_in_ended_stays_in_its_box_and_says_why(
    app: Flask, live_server: Any, browser: Any, ended: str
) -> None:
    context, page, user, _case = _open_case(app, live_server, browser)
    try:
        page.fill("#note-text", NOTE)
        if ended == "idle":
            record = db.session.scalars(
                sa.select(StaffSession).where(StaffSession.user_id == user.id)
            ).one()
            record.last_seen_at = utcnow() - timedelta(
                minutes=app.config["SESSION_IDLE_MINUTES"] + 1
            )
            db.session.commit()
            why = "You were signed out after a period of inactivity."
        else:
            other = context.new_page()
            other.goto(f"{live_server.url}/cases/")
            with other.expect_navigation():
                other.get_by_role("button", name="Sign out").click()
            other.close()
            why = "You are signed out."
        page.click("#note-form button[type=submit]")
        error = page.locator("#note-form .field-error:not([hidden])")
        error.wait_for()
        assert error.inner_text().startswith(why)
        assert "Nothing was saved: what you wrote is still here." in error.inner_text()
        assert page.input_value("#note-text") == NOTE
        assert page.url.endswith(f"/cases/{_case.ref}")
        assert _notes() == 0
    finally:
        context.close()


def test_typing_a_long_note_keeps_the_sign_in_alive(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Keystrokes are activity the server cannot see: while someone types, the page tells it
    (at most every few minutes), so half an hour of writing does not end the sign-in."""
    context, page, user, _case = _open_case(app, live_server, browser)
    try:
        page.clock.install()
        record = db.session.scalars(
            sa.select(StaffSession).where(StaffSession.user_id == user.id)
        ).one()
        long_ago = utcnow() - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 2)
        record.last_seen_at = long_ago
        db.session.commit()
        page.type("#note-text", "Called")  # within a few minutes of the page: nothing asked
        page.wait_for_timeout(300)
        db.session.refresh(record)
        assert record.last_seen_at == long_ago
        page.clock.fast_forward("05:00")
        with page.expect_response(lambda response: "/auth/alive" in response.url) as alive:
            page.type("#note-text", " the lawyer")
        assert alive.value.status == 204
        db.session.expire_all()
        db.session.refresh(record)
        assert utcnow() - record.last_seen_at < timedelta(seconds=30)
    finally:
        context.close()
