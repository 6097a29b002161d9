"""The mail-failing banner in real Chromium: on a 390 px phone and at 1280 px it is the first
thing under the page's heading on /admin/ and /admin/reminders, fully on the screen without
scrolling sideways, and the pages stay free of axe violations (English and Chinese)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import Heartbeat, Role
from intake.services.heartbeats import PROCESSES
from tests.admin.test_mail_failing_banner import closed_port, due_emails, fail_once
from tests.builders import make_user, signed_in_context
from tests.conftest import LiveServer
from tests.mailserver import MailServer
from tests.public.test_accessibility import assert_accessible, no_horizontal_scroll

pytestmark = pytest.mark.browser

# Where a reviewer wants the screenshots (unset: none are written).
SHOTS = os.environ.get("REFUGE_SCREENSHOTS")


@pytest.fixture
def failing_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """An organisation in Taipei whose worker and scheduler run and whose mail server refuses
    connections: 12 e-mails wait."""
    app = make_app(
        "sqlite",
        DAILY_DIGEST=False,
        ORG_TIMEZONE="Asia/Taipei",
        **MailServer(closed_port()).config(),
    )
    with app.app_context():
        fail_once(due_emails(12)[0])
        db.session.add_all(Heartbeat(name=name, seen_at=utcnow()) for name in PROCESSES)
        db.session.commit()
        yield app


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
@pytest.mark.parametrize("width", [390, 1280])
def test_the_banner_comes_first_and_fits_the_screen(
    failing_app: Flask, browser: Any, locale: str, width: int
) -> None:
    server = LiveServer(failing_app).start()
    admin = make_user(Role.ADMIN, email="admin@example.org")
    context = signed_in_context(
        browser,
        failing_app,
        server.url,
        admin,
        viewport={"width": width, "height": 844},
        locale="zh-TW" if locale == "zh_Hant" else "en-GB",
        bypass_csp=True,  # for axe only
    )
    try:
        page = context.new_page()
        for path in ("/admin/", "/admin/reminders"):
            page.goto(f"{server.url}{path}?lang={locale}")
            notice = page.locator("[data-mail-failing]")
            assert notice.is_visible(), path
            # The first thing after the heading, and wholly within the first screen.
            follows = page.evaluate(
                "() => document.querySelector('h1').nextElementSibling.hasAttribute("
                "'data-mail-failing')"
            )
            assert follows, path
            box = notice.bounding_box()
            assert box is not None
            assert box["y"] + box["height"] <= 844, (path, box)
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= width, (path, box)
            assert no_horizontal_scroll(page), path
            if SHOTS:
                name = "index" if path == "/admin/" else "reminders"
                Path(SHOTS).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{SHOTS}/{name}-{locale}-{width}.png", full_page=True)
            assert_accessible(page, f"{path} at {width} px ({locale})")
    finally:
        context.close()
        server.stop()
