"""/reports and /reports/export.csv: who may see them, what they show, hostile query strings."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.models import ReferralKind, Role
from tests.builders import make_case, make_entry, make_org_key, sign_in
from tests.conftest import table_count
from tests.reports.conftest import add_referral, seed_year

YEAR_2025 = "period=custom&from=2025-01-01&to=2025-12-31"


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app("sqlite", ORG_TIMEZONE="Asia/Taipei")
    with app.app_context():
        yield app


@pytest.fixture
def viewer(web: Flask) -> FlaskClient:
    client = web.test_client()
    sign_in(client, Role.VIEWER)
    return client


def table(html: str, key: str) -> list[tuple[str, str]]:
    """(label, value) rows of one report table, total row included."""
    match = re.search(rf'<table class="report-table" id="table-{key}">(.*?)</table>', html, re.S)
    assert match, f"no table {key}"
    rows = re.findall(
        r'<th scope="row">(.*?)</th>\s*<td class="num">(?:<abbr[^>]*>)?(.*?)(?:</abbr>)?</td>',
        match.group(1),
        re.S,
    )
    return [(label.strip(), value.strip()) for label, value in rows]


def read_csv(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# --- access ----------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(web: Flask) -> None:
    client = web.test_client()
    for path in ("/reports/", f"/reports/?{YEAR_2025}", "/reports/export.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CASEWORKER, Role.ADMIN])
def test_every_staff_role_reads_reports(web: Flask, role: Role) -> None:
    client = web.test_client()
    sign_in(client, role)
    assert client.get("/reports/").status_code == 200
    response = client.get(f"/reports/export.csv?{YEAR_2025}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")


# --- the page --------------------------------------------------------------------------------


def test_page_shows_the_known_year(viewer: FlaskClient) -> None:
    seed_year()
    html = viewer.get(f"/reports/?{YEAR_2025}").get_data(as_text=True)
    figures = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html))
    assert figures["Requests received"] == "10"
    assert figures["Median days from request to first referral sent"] == "5.0"
    assert figures["Referrals sent or started"] == "6"
    assert figures["Reminder e-mails sent"] == "3"
    months = dict(table(html, "per_month"))
    assert (months["Jan 2025"], months["Dec 2025"], months["Total"]) == ("2", "2", "10")
    assert dict(table(html, "urgency"))["Immediate: life or liberty at risk now"] == "2"
    assert dict(table(html, "threats"))["Digital threat"] == "3"
    assert dict(table(html, "sealed_by"))["Sealed on the server (JavaScript off)"] == "3"
    assert dict(table(html, "consent"))["No consent recorded"] == "2"
    assert dict(table(html, "outcome"))["Out of scope"] == "1"
    assert dict(table(html, "referral_kind"))["Referral to an organisation"] == "2"
    assert dict(table(html, "referral_state"))["No reply"] == "1"
    assert table(html, "referral_entries") == [
        ("Alpha Defenders Network", "4"),
        ("Beta Legal Desk", "2"),
    ]
    deadlines = dict(table(html, "deadlines"))
    assert deadlines["Finished: acknowledged or answered by the due date"] == "1"
    assert deadlines["Finished: acknowledged or answered after the due date"] == "1"
    # Counted as /referrals counts it: a referral still waiting, acknowledged or not, is
    # overdue once its due date has passed (reviewers saw 20 here and 22, then 23, there).
    assert "Still awaiting an answer, overdue" in deadlines
    assert dict(table(html, "reminders"))["Daily digests"] == "1"
    assert "CANARY" not in html
    assert 'class="table-wrap"' in html


def test_small_counts_are_suppressed_by_country_and_profile(viewer: FlaskClient) -> None:
    seed_year()
    html = viewer.get(f"/reports/?{YEAR_2025}").get_data(as_text=True)
    # Exact counts first (largest first), then the suppressed rows by name, then the total.
    assert table(html, "countries") == [
        ("Taiwan", "6"),
        ("Hong Kong SAR China", "&lt;5"),
        ("Mexico", "&lt;5"),
        ("Total", "10"),
    ]
    profiles = table(html, "profiles")
    assert profiles[:3] == [
        ("Lawyer", "6"),
        ("Woman human rights defender", "5"),
        ("Journalist", "&lt;5"),
    ]
    assert len(profiles) == 11  # every profile, the empty ones last
    assert {value for _, value in profiles[3:]} == {"0"}
    assert 'id="suppression-note"' in html
    assert "any count from 1 to 4 is shown as “&lt;5”" in html
    # Other breakdowns keep their exact small numbers.
    assert dict(table(html, "urgency"))["Within weeks"] == "3"


def test_a_country_alone_below_five_is_not_named(viewer: FlaskClient) -> None:
    """Shown as "Kenya <5" beside exact counts, its count was the total less the others (a
    review): a single small country is not named, and two or more keep their names."""
    org = make_org_key()
    for _ in range(5):
        make_case(org, country="TW")
    make_case(org, country="KE")
    html = viewer.get("/reports/").get_data(as_text=True)
    assert table(html, "countries") == [
        ("Taiwan", "5"),
        ("Another country (fewer than 5 requests)", "&lt;5"),
        ("Total", "6"),
    ]
    assert "Kenya" not in html
    csv_rows = read_csv(viewer.get("/reports/export.csv").data)
    assert not [row for row in csv_rows if "Kenya" in row[1]]
    make_case(org, country="MX")
    html = viewer.get("/reports/").get_data(as_text=True)
    assert table(html, "countries")[1:3] == [("Kenya", "&lt;5"), ("Mexico", "&lt;5")]


def test_this_year_is_the_default(viewer: FlaskClient) -> None:
    make_case(make_org_key(), country="KE")
    html = viewer.get("/reports/").get_data(as_text=True)
    year = utcnow().year
    assert re.search(r"<dt>Requests received</dt><dd>1</dd>", html)
    assert f"1 Jan {year}" in html  # as every staff page writes a day
    # One request: any breakdown of it by country or profile would point at it.
    assert 'id="table-countries"' not in html
    assert 'id="table-profiles"' not in html
    assert "Fewer than 5 requests in this period: not shown by country or by profile" in html
    assert "Kenya" not in html
    last = viewer.get("/reports/?period=last_year").get_data(as_text=True)
    assert f"1 Jan {year - 1}" in last
    assert 'id="report-empty"' in last


def test_empty_state(viewer: FlaskClient) -> None:
    response = viewer.get("/reports/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="report-empty"' in html
    assert "No requests, referrals or reminders in this period." in html
    assert "<table" not in html
    csv_rows = read_csv(viewer.get("/reports/export.csv").data)
    assert ["Key figures", "Requests received", "0"] in csv_rows


def test_page_in_traditional_chinese(viewer: FlaskClient) -> None:
    seed_year()
    html = viewer.get(f"/reports/?{YEAR_2025}&lang=zh_Hant").get_data(as_text=True)
    assert '<html lang="zh-Hant" dir="ltr"' in html
    assert "<h1>報告</h1>" in html
    assert "重點數字" in html
    assert "2025年1月1日 至 2025年12月31日" in html
    assert dict(table(html, "per_month"))["2025年12月"] == "2"
    assert table(html, "countries")[0] == ("台灣", "6")
    assert dict(table(html, "profiles"))["律師"] == "6"  # the directory's label, translated
    assert "1 至 4 的數字一律顯示為「&lt;5」" in html
    # Sentences side by side without a space, as Chinese writes them ("。 求助" showed a gap).
    assert "。 " not in html.replace("。 <", "。<")
    rows = read_csv(viewer.get(f"/reports/export.csv?{YEAR_2025}").data)
    assert ["收到的求助" in row for row in rows].count(True) == 1
    bad = viewer.get("/reports/?period=custom&from=2025-13-01&to=2025-12-31")
    assert "日曆上沒有這一天。" in bad.get_data(as_text=True)  # well formed, no such day


def test_directory_names_are_in_the_readers_chinese_script(viewer: FlaskClient) -> None:
    """The top-10 table and the CSV name an entry as the directory pages do: Simplified for a
    zh_Hans reader (the directory is written in Traditional), Traditional for zh_Hant."""
    org = make_org_key()
    name_hant = "聯合國任意拘留問題工作組"
    make_entry("un-wgad", name="UN Working Group on Arbitrary Detention", name_zh=name_hant)
    add_referral(make_case(org), "un-wgad", ReferralKind.WGAD_OPINION, sent_at=utcnow())
    expected = {"zh_Hans": "联合国任意拘留问题工作组", "zh_Hant": name_hant}
    for lang, name in expected.items():
        html = viewer.get(f"/reports/?lang={lang}").get_data(as_text=True)
        assert table(html, "referral_entries") == [(name, "1")]
        rows = read_csv(viewer.get("/reports/export.csv").data)  # the language stays chosen
        assert [row[1:] for row in rows if row[1] in expected.values()] == [[name, "1"]]


def test_median_days_column_is_a_number_of_days_not_the_urgency(viewer: FlaskClient) -> None:
    seed_year()
    headers = {}
    for lang in ("en", "zh_Hant", "zh_Hans"):
        html = viewer.get(f"/reports/?{YEAR_2025}&lang={lang}").get_data(as_text=True)
        match = re.search(r'id="table-median_days">.*?<thead>(.*?)</thead>', html, re.S)
        assert match
        headers[lang] = re.findall(r'<th scope="col" class="num">(.*?)</th>', match.group(1))
        urgency = dict(table(html, "urgency"))
        assert headers[lang][0] not in urgency
    assert headers == {"en": ["Days"], "zh_Hant": ["天數"], "zh_Hans": ["天数"]}


# --- CSV -------------------------------------------------------------------------------------


def test_csv_has_the_same_tables_and_suppression(viewer: FlaskClient) -> None:
    seed_year()
    response = viewer.get(f"/reports/export.csv?{YEAR_2025}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="refuge-report-2025-01-01-to-2025-12-31.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response.data)
    assert rows[0] == ["Table", "Item", "Value"]
    assert ["Period", "First day", "2025-01-01"] in rows
    assert ["Period", "Time zone", "Asia/Taipei"] in rows
    generated = next(row[2] for row in rows if row[:2] == ["Period", "Generated"])
    assert generated.endswith(" (UTC+08:00)"), generated  # the report's zone, not UTC
    assert ["Key figures", "Requests received", "10"] in rows
    assert ["Requests received per month", "Dec 2025", "2"] in rows
    assert ["Requests by country", "Taiwan", "6"] in rows
    assert ["Requests by country", "Hong Kong SAR China", "<5"] in rows
    assert ["Requests by country", "Mexico", "<5"] in rows
    assert ["Requests by country", "Total", "10"] in rows
    assert ["Requests by profile", "Journalist", "<5"] in rows
    assert ["Organisations and mechanisms referred to most (top 10)", "Beta Legal Desk", "2"] in (
        rows
    )
    assert not any(row[1] == "Hong Kong SAR China" and row[2] == "3" for row in rows)
    assert all(len(row) == 3 for row in rows)
    assert "CANARY" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("http://x.example","x")', "+1+1", "-2+3", "@SUM(A1:A2)", "\tTAB", "\rCR"],
)
def test_csv_cells_cannot_become_formulas(viewer: FlaskClient, name: str) -> None:
    org = make_org_key()
    case = make_case(org)
    make_entry("hostile", name=name)
    add_referral(case, "hostile", ReferralKind.NGO_REFERRAL, sent_at=utcnow())
    rows = read_csv(viewer.get("/reports/export.csv").data)
    cells = [row[1] for row in rows if row[0].startswith("Organisations and mechanisms")]
    assert cells == ["'" + name]
    for row in rows:
        for cell in row:
            assert not cell or cell[0] not in "=+-@\t\r", row


# --- hostile query strings -------------------------------------------------------------------

BAD_QUERIES = [
    ("period=custom&from=2025-02-30&to=2025-12-31", "There is no such day in the calendar."),
    ("period=custom&from=yesterday&to=2025-12-31", "Enter a date as YYYY-MM-DD"),
    ("period=custom&from=2025-1-1&to=2025-12-31", "Enter a date as YYYY-MM-DD"),
    ("period=custom&from=&to=", "Enter a date as YYYY-MM-DD"),
    ("period=custom", "Enter a date as YYYY-MM-DD"),
    ("from=2025-01-01", "Enter a date as YYYY-MM-DD"),  # dates alone mean a range
    ("period=custom&from=2025-12-31&to=2025-01-01", "on or after the start date"),
    ("period=custom&from=1990-01-01&to=2100-12-31", "at most ten years"),
    ("period=custom&from=0001-01-01&to=9999-12-31", "Enter a date between 1990 and 2100"),
    ("period=custom&from=1989-12-31&to=1990-01-05", "Enter a date between 1990 and 2100"),
    ("period=custom&from=" + "9" * 5000 + "&to=2025-01-01", "Enter a date as YYYY-MM-DD"),
    ("period=custom&from=%E2%80%AE2025-01-01&to=2025-12-31", "Enter a date as YYYY-MM-DD"),
    ("period=custom&from=%FF%FE&to=2025-12-31", "Enter a date as YYYY-MM-DD"),
    ("period=custom&from=2025-01-01'--&to=2025-12-31", "Enter a date as YYYY-MM-DD"),
    ("period=forever", "Choose this year, last year or a date range."),
    ("period=<script>alert(1)</script>", "Choose this year, last year or a date range."),
]


@pytest.mark.parametrize(("query", "message"), BAD_QUERIES)
def test_hostile_query_strings_get_a_clear_400(
    viewer: FlaskClient, query: str, message: str
) -> None:
    page = viewer.get(f"/reports/?{query}")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert message in html
    assert 'role="alert"' in html
    assert "<script>alert" not in html
    assert "<table" not in html
    export = viewer.get(f"/reports/export.csv?{query}")
    assert export.status_code == 400
    assert message in export.get_data(as_text=True)
    assert "Content-Disposition" not in export.headers


@pytest.mark.parametrize(
    "query",
    [
        "period=this_year&from=junk&to=junk",  # dates are ignored for a named period
        "period=last_year&period=custom",  # the first value counts
        "lang=xx&junk=%E2%80%AE&period=this_year",
        "period=custom&from=2025-01-01&to=2025-01-01",  # one day
        "period=custom&from=1990-01-01&to=1999-12-31",  # exactly ten years
        "period=custom&from=2100-12-01&to=2100-12-31",
        "period=%20custom%20&from=%202025-01-01%20&to=2025-03-01",  # stray spaces
    ],
)
def test_odd_but_valid_query_strings_work(viewer: FlaskClient, query: str) -> None:
    assert viewer.get(f"/reports/?{query}").status_code == 200
    assert viewer.get(f"/reports/export.csv?{query}").status_code == 200


@pytest.mark.parametrize(
    "query",
    ["period=custom&from=2025-01-01%00&to=2025-12-31", "junk=%00&period=this_year"],
)
def test_nul_bytes_are_refused_or_ignored_never_a_500(viewer: FlaskClient, query: str) -> None:
    page = viewer.get(f"/reports/?{query}")
    export = viewer.get(f"/reports/export.csv?{query}")
    # A NUL in the dates is a bad date; elsewhere the app may refuse the whole request.
    expected = {400} if "from=" in query else {200, 400}
    assert page.status_code in expected
    assert export.status_code in expected
    if page.status_code == 400:
        assert "<table" not in page.get_data(as_text=True)
        assert "Content-Disposition" not in export.headers


def test_a_bad_range_echoes_nothing_dangerous(viewer: FlaskClient) -> None:
    html = viewer.get('/reports/?period=custom&from="><script>x()</script>&to=2025-01-01').get_data(
        as_text=True
    )
    assert "<script>x()" not in html
    assert "&#34;&gt;&lt;script&gt;" in html or "&quot;&gt;&lt;script&gt;" in html


def test_reports_change_nothing(viewer: FlaskClient) -> None:
    seed_year()
    before = table_count("audit_events")
    viewer.get(f"/reports/?{YEAR_2025}")
    viewer.get(f"/reports/export.csv?{YEAR_2025}")
    after = table_count("audit_events")
    assert before == after
