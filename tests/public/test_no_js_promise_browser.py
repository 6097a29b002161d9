"""The landing page and the request form promise encryption in the browser; without JavaScript
(Tor Browser's Safest level) they said the same, while the server receives the answers and
seals them. Without JavaScript the pages now say so beside the promise; with it, nothing more."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.builders import make_org_key
from tests.public.conftest import phone_context

pytestmark = pytest.mark.browser

SAID = {  # the landing page's note; the request form says it in one sentence (SHORT)
    "en": "Without JavaScript, your browser cannot encrypt your answers itself.",
    "zh_Hant": "沒有 JavaScript",
}
SHORT = {
    "en": "Without JavaScript, our server encrypts your answers as soon as they arrive.",
    "zh_Hant": "沒有 JavaScript 時，您的回答會在抵達我們的伺服器後立即加密。",
}


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
@pytest.mark.parametrize("javascript", [False, True], ids=["nojs", "js"])
def test_without_javascript_the_pages_say_the_server_seals(
    app: Flask, live_server: Any, browser: Any, locale: str, javascript: bool
) -> None:
    make_org_key()
    context = phone_context(browser, javascript=javascript, locale=locale)
    page = context.new_page()
    for path in ("/", "/request"):
        page.goto(f"{live_server.url}{path}?lang={locale}")
        note = page.locator("[data-no-js-sealing]").first
        if javascript:
            assert page.locator("[data-no-js-sealing]").count() == 0  # inside <noscript>
        else:
            assert note.is_visible(), path
            said = (SAID if path == "/" else SHORT)[locale]
            assert said in note.inner_text(), path
    # The review step: the promise of encryption in the browser where the script runs; without
    # it, what happens instead (it said "encrypted in your browser" first).
    promise = page.locator("[data-sealed-here]")
    if javascript:
        assert promise.evaluate("p => p.hidden") is False
    else:
        assert not promise.is_visible()
        review = page.locator("[data-step='5'] [data-no-js-sealing]")
        assert review.is_visible()
        assert SAID[locale] in review.inner_text()
    context.close()
