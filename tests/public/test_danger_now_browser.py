"""Real Chromium on a phone: "If you are in danger now" before anything is sent. Without
JavaScript (Tor Browser's Safest level) nothing is asked while the person writes, so the
24-hour channels for any emergency are in the form itself; with JavaScript the panel for the
chosen country and threats replaces them (one panel, not two)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from intake.services.directory import import_shipped
from tests.builders import make_org_key
from tests.public.conftest import PHONE, phone_context

pytestmark = pytest.mark.browser
STORY = "Arrêté au poste de contrôle, téléphone saisi."
TITLE = {
    "en": "If you are in danger now",
    "ar": "إن كنت في خطر الآن",
    "zh_Hant": "如果您現在有危險",
}


@pytest.fixture
def directory(app: Flask) -> None:
    make_org_key()
    import_shipped()


@pytest.mark.parametrize("locale", ["ar", "zh_Hant"])
def test_without_javascript_the_24_hour_channels_are_on_the_form_before_sending(
    directory: None, live_server: Any, browser: Any, locale: str
) -> None:
    context = phone_context(browser, javascript=False, locale=locale)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang={locale}")
        page.fill("#what_happened", STORY)
        page.check("input[name=urgency][value=immediate]")
        general = page.locator("#danger-now")
        expect(general).to_be_visible()
        summary = page.locator("#danger-now-title")
        expect(summary).to_have_text(TITLE[locale])
        summary.click()  # opens in place: no page is left, nothing typed is lost
        line = general.locator("[data-channel=frontline-defenders] a[href='tel:+35312100489']")
        line.scroll_into_view_if_needed()
        expect(line).to_be_in_viewport()
        expect(general.locator("[data-channel=embassies]")).to_be_visible()
        assert page.url.endswith(f"/request?lang={locale}")
        expect(page.locator("#what_happened")).to_have_value(STORY)
        expect(page.locator("input[name=urgency][value=immediate]")).to_be_checked()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # The landing page has them too, before the way to the form.
        page.goto(f"{live_server.url}/?lang={locale}")
        expect(page.locator("#danger-now-title")).to_have_text(TITLE[locale])
    finally:
        context.close()


def test_with_javascript_the_tailored_panel_replaces_the_general_one(
    directory: None, live_server: Any, browser: Any
) -> None:
    context = phone_context(browser, javascript=True, locale="en")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request")
        general = page.locator("#danger-now")
        panel = page.locator("#urgent-help-panel")
        expect(general).to_be_visible()  # before anything is chosen, as without JavaScript
        expect(panel).to_be_hidden()
        page.check("input[name=urgency][value=immediate]")
        expect(panel.locator("#urgent-channels [data-channel=embassies]")).to_be_visible()
        expect(general).to_be_hidden()
        titles = page.get_by_text(TITLE["en"], exact=True)
        assert sum(title.is_visible() for title in titles.all()) == 1
        page.check("input[name=urgency][value=days]")
        expect(panel).to_be_hidden()
        expect(general).to_be_visible()
    finally:
        context.close()


def test_with_javascript_a_channels_note_is_in_chinese_brackets(
    directory: None, live_server: Any, browser: Any
) -> None:
    """urgent-help.js wrote " (24 小時)" in every language (a review)."""
    context = phone_context(browser, javascript=True, locale="zh_Hant")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=zh_Hant")
        page.check("input[name=urgency][value=immediate]")
        line = page.locator("#urgent-channels [data-channel=frontline-defenders] li").first
        expect(line).to_contain_text("（24 小時）")
        assert "0489（24 小時）" in line.inner_text()
    finally:
        context.close()
