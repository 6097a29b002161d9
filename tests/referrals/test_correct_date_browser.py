"""Correcting a date in real Chromium, on a phone, in Chinese: the form opens from the facts,
the chosen date fills the field, a refusal comes back beside the date in the opened form, and
a correction moves the deadline, shown at once. Screenshots at 390 and 1280 px."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import Referral, ReferralKind, Role
from tests import browser_steps as steps
from tests.builders import make_org_key, make_staff_with_keys
from tests.referrals.conftest import sent_referral

SHOTS = Path(__file__).resolve().parents[2] / "instance" / "screenshots"


@pytest.mark.browser
def test_a_caseworker_corrects_a_mistyped_sent_date_on_a_phone(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="correct-date@example.org")
    sent = (utcnow() - timedelta(days=20)).replace(second=0, microsecond=0)
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=sent, org=org, owner=user)
    old_due = referral.due_at
    assert old_due is not None
    path = f"/referrals/{referral.id}?lang=zh_Hant"
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 390, "height": 844})
    steps.sign_in_as(page, base, user, path)
    page.goto(f"{base}{path}")

    page.click("#correct-date > summary")
    form = page.locator("form[data-correct-date]")
    assert form.is_visible()
    # A date in the future: refused beside the date, the form open again where it was.
    page.select_option("#which", "sent")
    # The chosen date is put in the field, to mend rather than retype (correct-date.js).
    assert page.input_value("#corrected_at") == sent.strftime("%Y-%m-%dT%H:%M")
    page.fill("#corrected_at", (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    error = page.locator("[data-correct-date-error]")
    assert error.is_visible()
    assert "日期不能是未來。" in error.inner_text()
    assert page.locator("#correct-date").get_attribute("open") is not None
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "correct-date-refused-390.png"), full_page=True)

    right = sent + timedelta(days=10)  # sent ten days later than typed
    assert page.input_value("#which") == "sent"  # kept from the refused try
    page.fill("#corrected_at", right.strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    flash = page.locator(".flash").first
    assert "日期已更正" in flash.inner_text()
    # The page opens at the message and the facts, not at the closed form below them.
    top = page.evaluate("document.querySelector('.flash').getBoundingClientRect().top")
    assert 0 <= top < 844
    assert page.locator("[data-deadline-label]").is_visible()
    db.session.expire_all()
    corrected = db.session.get_one(Referral, referral.id)
    assert corrected.sent_at == right
    assert corrected.due_at == old_due + timedelta(days=10)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "correct-date-done-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("#correct-date > summary")
    page.screenshot(path=str(SHOTS / "correct-date-1280.png"), full_page=True)
    assert errors == []
