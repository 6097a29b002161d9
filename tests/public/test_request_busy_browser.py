"""The reviewer's scenario in real Chromium (fr, a 360 px phone, a slow network): after
"Envoyer en sécurité", the form is busy until the answer comes. Send and the step navigation
(Retour, the review's links) do nothing meanwhile, so nobody lands on an earlier step and edits
answers that will not be sent, nor do the language buttons, which would leave the page mid-send;
the form says aria-busy and the "sending" line is on screen and announced. When the send fails,
everything works again, with the error message."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake.extensions import db
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import PHONE, fill_required_answers

pytestmark = pytest.mark.browser

SENDING_FR = "Chiffrement et envoi…"
# The POST got no answer: it may have arrived, so the page says it could not confirm that.
FAILED_FR = "Nous n’avons pas pu confirmer que votre demande est arrivée"
NAVIGATION = ("#step-back", "#review-list button >> nth=0", "button[data-language-url] >> nth=0")


class HoldThePost:
    """page.route handler: the form's POST is held (a slow network) until the test lets it
    go on or fail; everything else passes."""

    def __init__(self) -> None:
        self.held: list[Any] = []

    def __call__(self, route: Any) -> None:
        if route.request.method == "POST":
            self.held.append(route)
            return
        route.continue_()


def _held_post(page: Any, hold: HoldThePost, number: int = 1) -> Any:
    """The form's ``number``-th POST, once it is held."""
    for _tick in range(400):  # route handlers run while Playwright is called: poll it
        if len(hold.held) >= number:
            return hold.held[number - 1]
        page.wait_for_timeout(25)
    raise AssertionError(f"POST {number} of the form never came")


@pytest.mark.parametrize("outcome", ["fails", "succeeds"])
def test_while_a_send_is_slow_the_form_is_busy_and_back_does_nothing(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path, outcome: str
) -> None:
    make_org_key()
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        hold = HoldThePost()
        page.route(lambda url: urlsplit(url).path == "/request", hold)
        page.goto(f"{live_server.url}/request?lang=fr")
        fill_required_answers(page)
        form = page.locator("#intake-form")
        expect(form).not_to_have_attribute("aria-busy", "true")

        page.click("#send-request")
        post = _held_post(page, hold)

        expect(form).to_have_attribute("aria-busy", "true")
        expect(page.locator("#send-request")).to_be_disabled()
        for control in NAVIGATION:
            expect(page.locator(control)).to_be_disabled()
        status = page.locator("#send-status")
        expect(status).to_have_text(SENDING_FR)
        expect(status).to_have_attribute("role", "status")
        expect(status).to_have_attribute("aria-live", "polite")
        expect(status).to_be_in_viewport()
        page.screenshot(path=str(tmp_path / "request-sending-360.png"))
        # Nothing moves the form to another step meanwhile: not a click, not a script.
        page.locator("#step-back").dispatch_event("click")
        page.evaluate("window.Refuge.steps.show(3)")
        expect(page.locator("[data-step='5']")).to_be_visible()
        expect(page.locator("[data-step='4']")).to_be_hidden()

        if outcome == "succeeds":
            post.continue_()
            expect(page.locator("#receipt-panel")).to_be_visible()
            db.session.rollback()
            assert table_count("cases") == 1
            return

        post.abort("connectionreset")
        expect(page.locator("#error-summary")).to_contain_text(FAILED_FR)
        expect(form).not_to_have_attribute("aria-busy", "true")
        expect(page.locator("#send-request")).to_be_enabled()
        for control in NAVIGATION:
            expect(page.locator(control)).to_be_enabled()
        expect(status).to_have_text("")
        page.click("#step-back")
        expect(page.locator("[data-step='4']")).to_be_visible()
        page.click("#step-next")
        expect(page.locator("[data-step='5']")).to_be_visible()
        page.click("#send-request")  # and the request goes, once
        _held_post(page, hold, 2).continue_()
        expect(page.locator("#receipt-panel")).to_be_visible()
        db.session.rollback()
        assert table_count("cases") == 1
    finally:
        context.close()
