"""Real Chromium: the organisation's details, "Immediate" guidance and the proof of work, with
JavaScript on and off, on a phone and a desktop (issue 13)."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from intake.extensions import db
from intake.models import Case, Role
from intake.services import proof_of_work, urgent_help
from intake.services import settings as org_settings
from intake.services.directory import import_shipped
from tests.builders import make_org_key, make_user
from tests.public.conftest import CANARY

pytestmark = pytest.mark.browser
SHOTS = Path(tempfile.gettempdir()) / "org_shots"  # to look at by hand
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
BROWSER_LOCALES = {"en": "en-GB", "es": "es-ES", "ar": "ar"}
PROFILE = {
    "org_name": "Defenders Desk",
    "org_description": "We help human rights defenders in Latin America.",
    "org_response_time": "within 2 working days",
    "org_contact": "desk@example.org",
    "org_onion": "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion",
}


@pytest.fixture
def organisation(app: Flask) -> None:
    make_org_key()
    import_shipped()
    org_settings.set_org_profile(PROFILE, make_user(Role.ADMIN))


def _context(browser: Any, javascript: bool, locale: str, viewport: dict[str, int]) -> Any:
    return browser.new_context(
        viewport=viewport, java_script_enabled=javascript, locale=BROWSER_LOCALES[locale]
    )


@pytest.mark.parametrize("locale", ["en", "es", "ar"])
def test_immediate_shows_what_to_do_now_from_routing_facts_only(
    organisation: None, live_server: Any, browser: Any, locale: str
) -> None:
    SHOTS.mkdir(exist_ok=True)
    context = _context(browser, True, locale, PHONE)
    asked: list[str] = []
    try:
        page = context.new_page()
        # What the page asks the server for guidance (the script itself is a static file).
        page.on(
            "request",
            lambda r: (
                asked.append(r.url) if "urgent-help" in r.url and "/static/" not in r.url else None
            ),
        )
        page.goto(f"{live_server.url}/request?lang={locale}")
        expect(page.locator("#org-name")).to_have_text("Defenders Desk")
        expect(page.locator("#org-response-time")).to_contain_text("within 2 working days")
        expect(page.locator("#urgent-help-panel")).to_be_hidden()
        page.fill("#what_happened", CANARY + " they took my brother")
        page.check("input[name=urgency][value=immediate]")
        panel = page.locator("#urgent-help-panel")
        expect(panel).to_be_visible()
        expect(panel.locator("[data-channel=frontline-defenders]")).to_contain_text(
            "(+353) 1 210 0489"
        )
        expect(panel.locator("[data-channel=embassies]")).to_be_visible()
        # The first channels open, the rest one tap away: the next question stays near.
        assert panel.locator("#urgent-channels > li").count() == urgent_help.SHOWN_FIRST
        more = panel.locator("#urgent-more")
        expect(more).to_be_visible()
        hidden_channel = more.locator("li[data-channel]").first
        expect(hidden_channel).to_be_hidden()
        box = panel.bounding_box()
        assert box is not None
        assert box["height"] < 1.5 * PHONE["height"], f"the panel is {box['height']} px tall"
        # A phone number dials when tapped; nothing but tel:, mailto: and http(s) links.
        expect(
            panel.locator("[data-channel=frontline-defenders] a[href='tel:+35312100489']")
        ).to_have_count(1)
        hrefs = panel.locator("a").evaluate_all("links => links.map(l => l.getAttribute('href'))")
        assert hrefs
        assert all(h.startswith(("tel:", "mailto:", "https://", "http://")) for h in hrefs)
        page.screenshot(path=str(SHOTS / f"immediate-js-{locale}-360.png"), full_page=True)
        more.locator("summary").click()
        expect(hidden_channel).to_be_visible()
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(SHOTS / f"immediate-js-{locale}-1280.png"), full_page=True)
        if locale == "ar":
            assert page.evaluate("document.documentElement.dir") == "rtl"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= DESKTOP["width"]
        page.check("input[name=urgency][value=weeks]")
        expect(panel).to_be_hidden()
    finally:
        context.close()
    assert asked
    for url in asked:
        query = parse_qs(urlparse(url).query)
        assert set(query) <= {"urgency", "threats", "country"}, url
        assert CANARY not in url


@pytest.mark.parametrize("locale", ["en", "es", "ar"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360", "1280"])
def test_without_javascript_immediate_guidance_and_the_tor_note_are_on_the_page(
    organisation: None, live_server: Any, browser: Any, locale: str, viewport: dict[str, int]
) -> None:
    SHOTS.mkdir(exist_ok=True)
    context = _context(browser, False, locale, viewport)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/?lang={locale}")
        expect(page.locator("#tor-note")).to_be_visible()
        expect(page.locator("#org-description")).to_be_visible()
        page.screenshot(path=str(SHOTS / f"landing-nojs-{locale}-{viewport['width']}.png"),
                        full_page=True)  # fmt: skip
        page.goto(f"{live_server.url}/request?lang={locale}")
        if viewport is PHONE:  # the organisation's details leave the first question on screen
            box = page.locator("#what_happened").bounding_box()
            assert box is not None
            assert box["y"] + 40 <= PHONE["height"], f"what happened starts at {box['y']} px"
        page.check("input[name=urgency][value=immediate]")
        page.locator("#intake-form button[type=submit]").last.click()  # without "what happened"
        page.wait_for_load_state("load")  # widths are measured on the whole page, not a part
        panel = page.locator("#urgent-help-panel")
        expect(panel).to_be_visible()
        expect(panel).to_contain_text("(+353) 1 210 0489")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.screenshot(path=str(SHOTS / f"immediate-nojs-{locale}-{viewport['width']}.png"),
                        full_page=True)  # fmt: skip
    finally:
        context.close()


def test_the_browser_solves_the_proof_of_work_and_is_let_through(
    make_app: Callable[..., Flask], live_server_for: Callable[[Flask], Any], browser: Any
) -> None:
    app = make_app("sqlite", REQUEST_RATE_LIMIT="1 per hour", POW_DIFFICULTY_BITS=12)
    with app.app_context():
        make_org_key()
        server = live_server_for(app)
        context = browser.new_context(viewport=PHONE)
        try:
            page = context.new_page()
            page.goto(f"{server.url}/request")
            page.wait_for_function("window.Refuge && window.Refuge.submitter")
            challenge = "test-challenge"
            nonce = page.evaluate(
                "([c, b]) => window.Refuge.submitter.solveProofOfWork(c, b)", [challenge, 12]
            )
            # The server's hash: the browser's is libsodium's, this one is Python's hashlib.
            digest = hashlib.blake2b(f"{challenge}:{nonce}".encode(), digest_size=32).digest()
            assert proof_of_work.leading_zero_bits(digest) >= 12
            send = """async () => {
                const s = window.Refuge.submitter;
                const form = document.getElementById("intake-form");
                const sent = await s.send(form, form.dataset.keyUrl, [], function (key) {
                  const body = new FormData();
                  body.append("org_key_id", String(key.org_key_id));
                  body.append("urgency", "days");
                  body.append("consent_given", "0");
                  body.append("sealed_answers", s.sealObject({what_happened: "x"}, key));
                  return body;
                }, function () { worked += 1; });
                return [sent.status, worked];
            }"""
            page.evaluate("window.worked = 0")
            assert page.evaluate(send) == [201, 0]
            # Budget spent: 429, the person is told about the work, proof of work, 201.
            assert page.evaluate(send) == [201, 1]
            assert "extra work" in (page.get_attribute("#intake-form", "data-msg-working") or "")
            db.session.expire_all()
            assert len(db.session.scalars(sa.select(Case)).all()) == 2
        finally:
            context.close()


@pytest.fixture
def live_server_for() -> Iterator[Callable[[Flask], Any]]:
    from tests.conftest import LiveServer

    servers: list[Any] = []

    def start(app: Flask) -> Any:
        server = LiveServer(app).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


EMBASSIES_NOTE = {"en": "list of embassies worldwide", "ar": "قائمة بالسفارات حول العالم"}


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_the_receipt_s_immediate_guidance_fits_a_phone_and_keeps_each_contact_in_order(
    organisation: None, live_server: Any, browser: Any, locale: str
) -> None:
    """Without JavaScript the receipt repeats "If you are in danger now": its long addresses
    wrap instead of widening the page (675 px at 360 before), and a note in another script
    than the page's (an organisation's English name on an Arabic page) is isolated like the
    address."""
    from tests.public.test_browser import fill_request_form

    SHOTS.mkdir(exist_ok=True)
    context = _context(browser, False, locale, PHONE)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        fill_request_form(page)  # "Immediate", detention and reprisal, Taiwan
        page.click("#send-request")
        page.wait_for_selector("#receipt-code")
        # A width read while the page is still being laid out was once 372 px.
        page.wait_for_load_state("load")
        panel = page.locator("#urgent-help-panel")
        expect(panel).to_be_visible()
        embassies = panel.locator("[data-channel=embassies]")
        # The note in the page's language (intake/directory_words.py), isolated all the same.
        expect(embassies.locator("bdi")).to_have_text(f"({EMBASSIES_NOTE[locale]})")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(SHOTS / f"receipt-nojs-{locale}-360.png"), full_page=True)
    finally:
        context.close()


def test_the_hidden_immediate_panel_leaves_no_box_on_the_page(
    organisation: None, live_server: Any, browser: Any
) -> None:
    """Until "Immediate" is chosen nothing of the panel shows (an empty red strip did)."""
    context = _context(browser, True, "ar", PHONE)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=ar")
        expect(page.locator("#urgent-help-panel")).to_be_hidden()
        box = page.locator("#urgent-help").bounding_box()
        assert box is not None
        assert box["height"] == 0, box
        page.check("input[name=urgency][value=immediate]")
        note = page.locator("#urgent-help-panel [data-channel=embassies] bdi")
        expect(note).to_have_text(f"({EMBASSIES_NOTE['ar']})")  # built by urgent-help.js
        shown = page.locator("#urgent-help").bounding_box()
        assert shown is not None
        assert shown["height"] > 0
    finally:
        context.close()
