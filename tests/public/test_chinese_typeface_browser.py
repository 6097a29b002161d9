"""Simplified and Traditional Chinese each set in their own script's typeface.

The two set their punctuation differently (，。 centred in Traditional print, low at the left in
Simplified), and the stylesheet named the Traditional face first for every page: a Simplified
page read as Taiwanese print (a review). Checked by the face Chromium really draws with."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.builders import make_org_key
from tests.public.conftest import PHONE

pytestmark = pytest.mark.browser


def drawn_faces(page: Any, selector: str) -> list[str]:
    """The fonts Chromium used for the text of ``selector`` (DevTools' "Rendered Fonts")."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [font["familyName"] for font in fonts if font["glyphCount"]]


@pytest.mark.parametrize(("locale", "face"), [("zh_Hans", "SC"), ("zh_Hant", "TC")])
def test_each_chinese_is_drawn_in_its_own_scripts_face(
    app: Flask, live_server: Any, browser: Any, locale: str, face: str
) -> None:
    make_org_key()
    # The browser's own language the other script's: the page's lang decides, not the browser's.
    context = browser.new_context(
        viewport=PHONE, locale="zh-TW" if locale == "zh_Hans" else "zh-CN"
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/?lang={locale}")
    faces = drawn_faces(page, "main h1")
    assert any(f"CJK {face}" in name for name in faces), faces
    other = "TC" if face == "SC" else "SC"
    assert not any(f"CJK {other}" in name for name in faces), faces
    context.close()
