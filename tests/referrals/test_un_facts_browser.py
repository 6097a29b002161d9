"""A UN step's reference and link in real Chromium (DESIGN §1.2): checked and sealed in the
browser, posted only as ciphertext, stored only sealed, and shown again, decrypted, to the
caseworker who unlocked their key. The UN publishes its communications, which name the
defender: neither the request nor the database may hold the reference or link in the clear."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import Role, UnStep, UnStepKind
from intake.services import un_steps
from tests import browser_steps as steps
from tests.builders import make_org_key, make_staff_with_keys
from tests.public.conftest import database_text
from tests.referrals.conftest import opened_fact, sealed_fact, sent_referral

# Canaries in the UN's own format, typed loosely (the page writes it as the UN does).
TYPED_REFERENCE = "  ua qzx   4242/2031 "
REFERENCE = "UA QZX 4242/2031"
LINK = "https://spcommreports.example.org/canary-7f3e-published?gId=4242"
# In the request, form-encoded: none of these may be there (base64 has no "+" beside digits
# of the canary, no "-" at all).
IN_THE_CLEAR = ("QZX+4242", "qzx+4242", "4242%2F2031", "canary-7f3e", "spcommreports")
FORM = "#step-further_communication form"
REFERENCE_INPUT = f"{FORM} [data-un-fact=reference]"
LINK_INPUT = f"{FORM} [data-un-fact=link]"
REFERENCE_ERROR = f"{FORM} [data-un-fact-error=reference]"
LINK_ERROR = f"{FORM} [data-un-fact-error=link]"
REFERENCE_MESSAGE = "Write the UN reference as it appears on the letter, for example AL CHN 3/2026."
LINK_MESSAGE = "The link must be a web address starting with https://."

# What the server refused before the browser checked them (intake.services.un_steps.valid_link
# and _reference, until the reference and link were sealed): the browser refuses them alike.
BAD_REFERENCES = ("<script>", "AL CHN 3/2026" * 4, "AL CHN 3/1826", "AL 3/2026")
BAD_LINKS = (
    "http://spcommreports.ohchr.org/x",
    "javascript:alert(1)",
    "https:ohchr.org/x",
    "https://user:pw@ohchr.org/",
    "https://localhost/",
    "https://ohchr.org/ x",
    "https://ohchr.org:99999/",
    "https://ohchr.org:0/",
    "https://ohchr.org/\u202e",
    'https://ohchr.org/"onmouseover="x',
    "https://" + "a" * 600 + ".org",
)


def _posts(requests: list[tuple[str, str, str]]) -> list[str]:
    return [data for method, url, data in requests if method == "POST" and "/un-step" in url]


@pytest.mark.browser
def test_a_reference_and_link_are_checked_and_sealed_in_the_browser_and_shown_decrypted(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="un-facts@example.org")
    referral = sent_referral(org=org, owner=user)  # submitted and communicated the same day
    # A link stored sealed that is not https (a client of its own posted it): shown as text.
    hostile = "javascript:alert(document.domain)"
    un_steps.record(
        referral.id,
        UnStepKind.PRESS_RELEASE,
        user,
        fields=un_steps.StepFields(sealed_link=sealed_fact(hostile), org_key_id=org.key.id),
    )
    path = f"/referrals/{referral.id}"
    requests: list[tuple[str, str, str]] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append((r.method, r.url, r.post_data or "")))
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    steps.sign_in_as(page, base, user, path)
    page.goto(f"{base}{path}")
    # Locked: the timeline says the link is sealed, and the fields cannot be typed in.
    assert page.inner_text("[data-sealed-fact=link] [data-fact-notice]") == "Link (encrypted)"
    steps.unlock_in_header(page)
    page.click("#step-further_communication > summary")
    page.wait_for_selector(f"{REFERENCE_INPUT}:enabled", timeout=30_000)
    page.wait_for_selector(f"{LINK_INPUT}:enabled")
    assert page.get_attribute(REFERENCE_INPUT, "name") is None
    assert page.get_attribute(LINK_INPUT, "name") is None

    # Refused beside the field, in the server's words, and nothing is sent.
    for bad in BAD_REFERENCES:
        page.fill(REFERENCE_INPUT, bad)
        page.click(f"{FORM} button[type=submit]")
        assert page.inner_text(REFERENCE_ERROR) == REFERENCE_MESSAGE, bad
        assert page.get_attribute(REFERENCE_INPUT, "aria-invalid") == "true"
    page.fill(REFERENCE_INPUT, "")
    for bad in BAD_LINKS:
        page.fill(LINK_INPUT, bad)
        page.click(f"{FORM} button[type=submit]")
        assert page.inner_text(LINK_ERROR) == LINK_MESSAGE, bad
        assert page.is_hidden(REFERENCE_ERROR)
    assert _posts(requests) == []

    # Refused by the server (a date in the future): what was typed comes back, opened.
    page.fill(REFERENCE_INPUT, TYPED_REFERENCE)
    page.fill(LINK_INPUT, LINK)
    future = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    page.fill(f"{FORM} [name=at]", future)
    with page.expect_navigation():
        page.click(f"{FORM} button[type=submit]")
    assert "future" in page.inner_text(f"{FORM} [data-step-error]")
    page.wait_for_function(
        "s => document.querySelector(s).value !== ''", arg=REFERENCE_INPUT, timeout=30_000
    )
    assert page.input_value(REFERENCE_INPUT) == REFERENCE
    assert page.input_value(LINK_INPUT) == LINK

    page.fill(f"{FORM} [name=at]", "")
    with page.expect_navigation():
        page.click(f"{FORM} button[type=submit]")

    posts = _posts(requests)
    assert len(posts) == 2
    for data in posts:
        assert "sealed_reference=" in data
        assert "sealed_link=" in data
    for _method, url, data in requests:
        for clear in IN_THE_CLEAR:
            assert clear not in url
            assert clear not in data, clear

    db.session.expire_all()
    step = db.session.scalars(
        sa.select(UnStep).where(UnStep.kind == UnStepKind.FURTHER_COMMUNICATION)
    ).one()
    assert step.sealed_reference is not None
    assert step.sealed_link is not None
    assert (step.reference_org_key_id, step.link_org_key_id) == (org.key.id, org.key.id)
    assert opened_fact(step.sealed_reference, org) == REFERENCE
    assert opened_fact(step.sealed_link, org) == LINK
    stored = database_text(app)
    assert "QZX 4242" not in stored
    assert "canary-7f3e" not in stored

    # Shown again, decrypted, on the timeline: the reference as text, the link as a link.
    reference = page.locator(
        "[data-un-step=further_communication] [data-sealed-fact=reference] [data-fact-text]"
    )
    reference.wait_for(state="visible", timeout=30_000)
    assert reference.inner_text() == REFERENCE
    link = page.locator("[data-un-step=further_communication] [data-sealed-fact=link] a")
    link.wait_for(state="visible")
    assert link.get_attribute("href") == LINK
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert link.inner_text() == LINK
    # On a phone the long address wraps: it ran off a 390 px screen.
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    press = page.locator("[data-un-step=press_release] [data-sealed-fact=link]")
    assert press.locator("[data-fact-text]").inner_text() == hostile
    assert press.locator("a").count() == 0
    assert errors == []
