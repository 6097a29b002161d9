"""Real Chromium: a receipt code typed on a Russian, Greek or Arabic keyboard (look-alike
letters, Arabic-Indic digits) is read in the browser exactly as the server reads it, so the
reply key derived from it (submitter.js) is the one the organisation's replies were sealed to;
and on an Arabic page the code reads left to right as it is typed."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake import crypto
from tests.builders import make_org_key
from tests.public.conftest import phone_context
from tests.public.test_status import ARABIC_DIGITS, CYRILLIC, GREEK, PERSIAN_DIGITS

pytestmark = pytest.mark.browser

CODE = "8E59-V2EB-KMH0-PXT3-CAYZ"


def test_the_browser_reads_look_alikes_as_the_server_does(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    typed = [
        CODE,
        CODE.translate(CYRILLIC),
        CODE.translate(CYRILLIC).lower(),
        CODE.translate(GREEK),
        CODE.translate(ARABIC_DIGITS),
        CODE.translate(PERSIAN_DIGITS),
        "８Ｅ５９ – Ｖ２ＥＢ",  # full width, cut short: no code
        "UE59-V2EB-KMH0-PXT3-CAYZ",  # U is in no code
        "ЖE59-V2EB-KMH0-PXT3-CAYZ",  # nor is Ж
    ]
    context = phone_context(browser, javascript=True, locale="ar")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=ar")
        read = page.evaluate(
            "codes => codes.map(c => window.Refuge.submitter.normaliseCode(c))", typed
        )
        assert read == [crypto.normalise_receipt_code(code) for code in typed]
        assert read[1:6] == [CODE.replace("-", "")] * 5

        page.goto(f"{live_server.url}/status?lang=ar")
        page.type("#code", "8E59-V2EB-")
        assert page.get_attribute("#code", "dir") == "ltr"
        assert page.evaluate("getComputedStyle(document.querySelector('#code')).direction") == (
            "ltr"
        )
    finally:
        context.close()
