"""axe-core (from npm, injected into real Chromium) finds no violations on the public pages in
each language: the landing page, the form empty and with errors, /status and a case's status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from intake.models import Role, Urgency
from intake.services import settings as org_settings
from intake.services import submissions
from intake.services.directory import import_shipped
from intake.services.triage import Routing
from tests.builders import make_org_key, make_user
from tests.public.conftest import full_answers

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
LOCALES = ("en", "zh_Hant", "zh_Hans", "es", "fr", "ru", "ar")


@pytest.fixture
def axe_page(browser: Any) -> Iterator[Any]:
    """A page whose CSP lets the test inject axe (the app's own pages never need inline code;
    the other browser tests run under the real CSP)."""
    if not AXE.exists():
        pytest.fail("node_modules/axe-core is missing: run `npm install`")
    context = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
    ]


def assert_accessible(page: Any, what: str) -> None:
    found = violations(page)
    assert found == [], f"{what}: {json.dumps(found, ensure_ascii=False, indent=1)}"


def no_horizontal_scroll(page: Any) -> bool:
    return bool(
        page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_public_pages_have_no_axe_violations(
    app: Flask, live_server: Any, axe_page: Any, locale: str
) -> None:
    org = make_org_key()
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale=locale,
    )
    page = axe_page
    base = live_server.url

    page.goto(f"{base}/?lang={locale}")
    assert_accessible(page, f"/ {locale}")
    assert no_horizontal_scroll(page)

    page.goto(f"{base}/request?lang={locale}")
    assert_accessible(page, f"/request {locale}")
    assert no_horizontal_scroll(page)

    # Errors found in the browser (JavaScript on: the first step checks its answers).
    page.click("#step-next")
    page.wait_for_selector("#error-summary:not([hidden])")
    assert_accessible(page, f"/request with errors (JS) {locale}")

    # Errors found by the server (the form posted without intake.js).
    page.route("**/js/intake.js?*", lambda route: route.abort())
    page.route("**/js/steps.js?*", lambda route: route.abort())
    page.goto(f"{base}/request?lang={locale}")
    page.click("#send-request")
    page.wait_for_selector("#error-summary li")
    assert "/request" in page.url
    assert_accessible(page, f"/request with errors (server) {locale}")
    page.unroute("**/js/intake.js?*")

    page.goto(f"{base}/status?lang={locale}")
    assert_accessible(page, f"/status {locale}")
    page.fill("#code", "AAAA-BBBB-CCCC-DDDD-EEEE")
    page.click("button[type=submit]")
    page.wait_for_selector("#error-summary li")
    # The whole page, its scripts run: status-code.js (end of body) marks the next post as
    # one whose messages this browser opens, and axe reads every part of the page.
    page.wait_for_load_state("load")
    assert_accessible(page, f"/status wrong code {locale}")

    page.fill("#code", submission.receipt_code)
    page.click("button[type=submit]")
    page.wait_for_selector("#shared-status")
    page.wait_for_load_state("load")
    assert_accessible(page, f"/status detail {locale}")
    assert no_horizontal_scroll(page)


def test_without_an_org_key_the_closed_pages_are_accessible(
    app: Flask, live_server: Any, axe_page: Any
) -> None:
    for path in ("/", "/request"):
        axe_page.goto(f"{live_server.url}{path}?lang=zh_Hant")
        assert_accessible(axe_page, f"{path} closed")


def test_axe_does_report_a_planted_violation(app: Flask, live_server: Any, axe_page: Any) -> None:
    """The check can fail: an unlabelled input is reported."""
    axe_page.goto(f"{live_server.url}/status")
    axe_page.evaluate("() => document.querySelector('label[for=code]').remove()")
    assert "label" in {violation["id"] for violation in violations(axe_page)}


@pytest.mark.parametrize("locale", ["en", "es", "ar"])
def test_the_organisation_details_and_immediate_guidance_are_accessible(
    app: Flask, live_server: Any, axe_page: Any, locale: str
) -> None:
    make_org_key()
    import_shipped()
    org_settings.set_org_profile(
        {"org_name": "Defenders Desk", "org_description": "We help defenders.",
         "org_response_time": "within 2 working days", "org_contact": "desk@example.org"},
        make_user(Role.ADMIN),
    )  # fmt: skip
    page = axe_page
    page.goto(f"{live_server.url}/?lang={locale}")
    page.locator("#tor-note summary").click()
    assert_accessible(page, f"landing with details, {locale}")
    page.goto(f"{live_server.url}/request?lang={locale}")
    page.check("input[name=urgency][value=immediate]")
    page.locator("#urgent-channels [data-channel]").first.wait_for()
    assert_accessible(page, f"form with immediate guidance, {locale}")
