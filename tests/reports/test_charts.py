"""Charts on /reports: server-rendered SVG, readable without JavaScript and by screen readers,
drawn from the table rows with the same small-number suppression (issue 12)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from intake.models import Role
from intake.reports import charts
from intake.reports.tables import Row, Table, build_tables
from intake.services import reports
from intake.services.reports import SUPPRESSED, year_period
from intake.services.settings import org_zone
from tests.builders import sign_in
from tests.reports.conftest import seed_year, viewer_context
from tests.reports.test_routes import table

YEAR_2025 = "/reports/?period=custom&from=2025-01-01&to=2025-12-31"
KEYS = ("per_month", "threats", "urgency", "referral_state", "year_on_year", "median_days")


@pytest.fixture
def web(make_app: Any) -> Iterator[Flask]:
    app = make_app("sqlite", ORG_TIMEZONE="Asia/Taipei")
    with app.app_context():
        yield app


def svg_of(html: str, key: str) -> str:
    match = re.search(rf'<svg [^>]*id="chart-{key}".*?</svg>', html, re.S)
    assert match, f"no chart {key}"
    return match.group(0)


@pytest.mark.parametrize("lang", ["en", "zh_Hant", "zh_Hans"])
def test_charts_are_svg_with_a_title_a_desc_and_their_numbers_as_text(
    web: Flask, lang: str
) -> None:
    seed_year()
    client = web.test_client()
    sign_in(client, Role.VIEWER)
    html = client.get(f"{YEAR_2025}&lang={lang}").get_data(as_text=True)
    for key in KEYS:
        drawn = svg_of(html, key)
        assert 'role="img"' in drawn
        assert f'aria-labelledby="chart-{key}-title chart-{key}-desc"' in drawn
        assert re.search(rf'<title id="chart-{key}-title">[^<]+</title>', drawn)
        assert re.search(rf'<desc id="chart-{key}-desc">[^<]+</desc>', drawn)
        assert "viewBox=" in drawn
        # The numbers are in a table on the page: linked, or right under the chart.
        assert f'href="#table-{key}"' in html or f'id="table-{key}"' in html
    assert "<script" not in svg_of(html, "per_month")


def test_bars_carry_exactly_the_table_values(web: Flask) -> None:
    seed_year()
    client = web.test_client()
    sign_in(client, Role.VIEWER)
    html = client.get(YEAR_2025).get_data(as_text=True)
    for key in ("per_month", "threats", "urgency", "referral_state"):
        values = re.findall(r'data-value="([^"]+)"', svg_of(html, key))
        rows = [value for label, value in table(html, key) if label != "Total"]
        expected = [value.replace("&lt;", "<") for value in rows]
        assert values == expected, key
    # The 2025 medians: 5.0 days (seed_year).
    assert 'data-value="5.0"' in svg_of(html, "median_days")


def test_a_suppressed_count_has_no_bar_only_its_marker(web: Flask) -> None:
    seed_year()
    report = reports.build_report(year_period(2025, org_zone()))
    countries = {t.key: t for t in build_tables(report)}["countries"]
    assert any(row.value == SUPPRESSED for row in countries.rows)  # seed: HK 3, MX 1
    drawn = str(charts.svg(charts.from_table(countries)))
    suppressed = [row for row in countries.rows if row.value == SUPPRESSED]
    assert drawn.count('data-suppressed="1"') == len(suppressed)
    assert drawn.count("<rect") == len(countries.rows) - len(suppressed)
    assert "1 to 4" in charts.from_table(countries).description


def test_labels_are_escaped(web: Flask) -> None:
    hostile = Table("x", '<script>"', "Item", "Count", [Row("<b>&</b>", 3)])
    drawn = str(charts.svg(charts.from_table(hostile)))
    assert "<script>" not in drawn
    assert "<b>" not in drawn
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in drawn


@pytest.mark.parametrize("lang", ["en", "zh_Hant"])
def test_charts_show_at_360_px_without_javascript(
    app: Flask, live_server: Any, browser: Any, lang: str, tmp_path: Any
) -> None:
    seed_year()
    context = viewer_context(
        app, browser, live_server, java_script_enabled=False, viewport={"width": 360, "height": 740}
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}{YEAR_2025}&lang={lang}")
        for key in KEYS:
            box = page.locator(f"#chart-{key}").bounding_box()
            assert box is not None
            assert 0 < box["width"] <= 360, (key, box)
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1]
        page.locator(".report-charts").screenshot(path=str(tmp_path / f"charts-{lang}.png"))
    finally:
        context.close()
