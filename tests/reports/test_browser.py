"""The reports page in real Chromium: readable at 360 px, no accessibility violations, and the
period form works without JavaScript."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from intake.models import Role
from tests.builders import make_user, session_cookie
from tests.reports.conftest import seed_year, viewer_context

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
USER_AGENT = "RefugeReportTests/1.0"


def test_reports_at_360_px_without_javascript(app: Flask, live_server: Any, browser: Any) -> None:
    if not AXE.exists():
        pytest.fail("node_modules/axe-core is missing: run `npm install`")
    seed_year()
    # JavaScript off: the page and its period form must work without it.
    context = viewer_context(
        app,
        browser,
        live_server,
        user_agent=USER_AGENT,
        viewport={"width": 360, "height": 740},
        java_script_enabled=False,
        locale="en-GB",
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/reports/")
        # Choose 2025 with the form alone (no script): fill the dates and submit.
        page.fill("#report-from", "2025-01-01")
        page.fill("#report-to", "2025-12-31")
        page.click("#period-form button[type=submit]")
        page.wait_for_load_state("load")  # the click waits only for the answer to start
        assert "period=custom" in page.url
        assert "Requests received" in page.inner_text(".report-figures")
        assert "10" in page.inner_text(".report-figures")
        assert page.locator("#table-countries").count() == 1
        for path in ("/reports/?period=custom&from=2025-01-01&to=2025-12-31&lang=zh_Hant",):
            page.goto(f"{live_server.url}{path}")
            assert "報告" in page.inner_text("h1")
        # Nothing wider than the screen: wide tables scroll inside their .table-wrap.
        for lang in ("en", "zh_Hant"):
            page.goto(
                f"{live_server.url}/reports/?period=custom&from=2025-01-01&to=2025-12-31"
                f"&lang={lang}"
            )
            widths = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], (lang, widths)
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_reports_have_no_axe_violations(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    if not AXE.exists():
        pytest.fail("node_modules/axe-core is missing: run `npm install`")
    seed_year()
    viewer = make_user(Role.VIEWER)
    context = browser.new_context(
        bypass_csp=True, user_agent=USER_AGENT, viewport={"width": 360, "height": 740}
    )
    try:
        context.add_cookies(
            [
                {
                    "name": app.config["SESSION_COOKIE_NAME"],
                    "value": session_cookie(app, viewer),
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        for path in (
            f"/reports/?period=custom&from=2025-01-01&to=2025-12-31&lang={locale}",
            "/reports/?period=custom&from=2025-12-31&to=2025-01-01",  # the error state
            "/reports/?period=custom&from=2019-01-01&to=2019-12-31",  # the empty state
        ):
            page.goto(f"{live_server.url}{path}")
            page.add_script_tag(content=AXE.read_text())
            found = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            )
            summary = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in found]
            assert summary == [], (path, summary)
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 360])
def test_chart_labels_read_at_the_size_of_the_page_text(
    app: Flask, live_server: Any, browser: Any, width: int
) -> None:
    """The charts scale with their box: at 1280 px their labels were 23 px, larger than the
    section headings. At any width a label stays within a few pixels of the body text."""
    seed_year()
    context = viewer_context(
        app, browser, live_server, viewport={"width": width, "height": 900}, locale="en-GB"
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/reports/?period=custom&from=2025-01-01&to=2025-12-31")
        sizes = page.evaluate(
            """() => {
              const label = document.querySelector(".report-chart text[font-size='13']");
              const body = parseFloat(getComputedStyle(document.body).fontSize);
              return [label.getBoundingClientRect().height, body];
            }"""
        )
        label, body = sizes
        assert body * 0.7 <= label <= body * 1.3, (width, sizes)
    finally:
        context.close()
