"""A government reply's summary in real Chromium (issue 12): sealed in the browser, shown
decrypted on the timeline; neither the request nor the database ever holds the plaintext.
Also the screenshots of a UN referral page at 1280 and 360 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import ReferralState, Role, UnStep, UnStepKind
from tests import browser_steps as steps
from tests.builders import make_org_key, make_staff_with_keys
from tests.referrals.conftest import sent_referral

CANARY = "CANARY-5c1d-government-reply"
SUMMARY = f"{CANARY} denies detention <img src=x id=injected>\n第二行"
SHOTS = Path(__file__).resolve().parents[2] / "instance" / "screenshots"


@pytest.mark.browser
def test_reply_summary_is_sealed_in_the_browser_and_shown_decrypted(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="un-reply@example.org")
    referral = sent_referral(org=org, owner=user)  # submitted and communicated the same day
    path = f"/referrals/{referral.id}"
    requests: list[tuple[str, str, str]] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append((r.method, r.url, r.post_data or "")))
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    steps.sign_in_as(page, base, user, path)
    page.goto(f"{base}{path}")
    steps.unlock_in_header(page)
    form = "form[data-un-reply-form]"
    page.click("details:has(form[data-un-reply-form]) > summary")
    page.wait_for_selector(f"{form} [data-un-summary]:enabled", timeout=30_000)
    assert page.get_attribute(f"{form} [data-un-summary]", "name") is None
    # A summary pasted past its limit is kept whole and refused by its counter, unsent: one
    # line says by how much (not a second red line under it).
    page.fill(f"{form} [data-un-summary]", "x" * 20_001)
    over = "Too long: 20001 of 20000 characters, 1 over the limit. Shorten it and try again."
    assert page.inner_text("#summary-reply_received-count") == over
    page.click(f"{form} button[type=submit]")
    assert page.inner_text("#summary-reply_received-count") == over
    assert page.locator(f"{form} [data-un-summary-error]").is_hidden()
    assert page.evaluate("document.activeElement.id") == "summary-reply_received"
    assert [r for r in requests if r[0] == "POST" and "/un-step" in r[1]] == []
    page.fill(f"{form} [data-un-summary]", SUMMARY)
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")

    posts = [data for method, url, data in requests if method == "POST" and "/un-step" in url]
    assert len(posts) == 1
    assert "sealed_summary=" in posts[0]
    assert "step=reply_received" in posts[0]
    for _method, url, data in requests:
        assert CANARY not in url
        assert CANARY not in data

    db.session.expire_all()
    step = db.session.scalars(
        sa.select(UnStep).where(UnStep.kind == UnStepKind.REPLY_RECEIVED)
    ).one()
    assert step.sealed_summary
    assert CANARY not in step.sealed_summary
    assert crypto.open_answers(step.sealed_summary, org.secret) == {"body": SUMMARY}
    assert step.referral.state == ReferralState.REPLIED

    shown = page.locator("[data-sealed-summary] [data-summary-text]")
    shown.wait_for(state="visible", timeout=30_000)
    assert shown.inner_text() == SUMMARY
    assert page.locator("#injected").count() == 0
    assert errors == []

    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"un-referral-{width}.png"), full_page=True)
