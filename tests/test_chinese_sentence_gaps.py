"""Chinese sentences follow one another without a space, and nothing follows "：" but what it
introduces: a space there shows as a gap ("恢复套件。 若此人忘记密码", "指纹： B2A4"; found on
/admin, /referrals and the request form after a review of /reports). Every page a signed-in
admin reaches by links from the staff pages, and every public page, is read as Chromium lays
out its text: blocks apart, inline runs with their spaces."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException

from intake.models import Role
from intake.services import directory as directory_service
from tests.builders import make_org_key, make_staff_with_keys, sign_in
from tests.test_staff_languages import STAFF_PAGES

# Elements that start a line of their own, or a box of their own (a button beside a sentence
# is apart from it however the markup spaces them).
APART = {
    *("p", "div", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td", "th", "caption"),
    *("h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "pre", "blockquote", "figure"),
    *("section", "header", "footer", "nav", "main", "article", "aside", "form", "fieldset"),
    *("legend", "details", "summary", "select", "option", "textarea", "button", "input"),
    *("title", "figcaption"),
}
UNSEEN = {"script", "style", "template"}
# A space after Chinese punctuation, before a full-width bracket, or a Chinese word then an
# ASCII bracket after a space ("更多管道 (3)"): each shows as a gap or reads as English.
GAP = re.compile(
    r"[。！？；：，、][ \u00a0]+(?=\S)|(?<=\S)[ \u00a0]+[（「]|[\u4e00-\u9fff][ \u00a0]+\("
)
LINK = re.compile(r'href="(/[^"#]*)')
NOT_PAGES = {"static", "system.vendor_asset", "system.healthz", "auth.logout", "reports.export"}


class LaidOutText(HTMLParser):
    """The page's text in runs that are laid out on one line, spaces collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[str] = [""]
        self.unseen = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.unseen += tag in UNSEEN
        if tag in APART:
            self.runs.append("")

    def handle_endtag(self, tag: str) -> None:
        self.unseen -= tag in UNSEEN
        if tag in APART:
            self.runs.append("")

    def handle_data(self, data: str) -> None:
        if not self.unseen:
            self.runs[-1] += data


def gaps(html: str) -> list[str]:
    """Each gap after Chinese punctuation, with a few characters either side."""
    text = LaidOutText()
    text.feed(html)
    runs = (" ".join(run.split()) for run in text.runs)
    return [run[max(0, m.start() - 12) : m.end() + 12] for run in runs for m in GAP.finditer(run)]


def gaps_on_pages_reached(app: Flask, client: FlaskClient, starts: tuple[str, ...]) -> dict:
    """Gaps on each page reached by same-site links from ``starts``, three pages per route (a
    case page in three states, not forty alike)."""
    routes = app.url_map.bind("localhost")
    per_route: dict[str, int] = {}
    to_visit, visited, found = list(starts), set(), {}
    while to_visit:
        path = to_visit.pop(0)
        if path in visited:
            continue
        visited.add(path)
        try:
            endpoint, _arguments = routes.match(path.split("?")[0])
        except HTTPException:
            continue  # a link to no route: tests/test_links.py's business
        if endpoint in NOT_PAGES or per_route.get(endpoint, 0) >= 3:
            continue
        per_route[endpoint] = per_route.get(endpoint, 0) + 1
        response = client.get(path)
        if response.mimetype == "text/html":
            if found_here := gaps(response.text):
                found[path] = found_here
            to_visit += LINK.findall(response.text)
    assert len(per_route) > len(starts) / 2, per_route  # the links were followed
    return found


def test_the_reader_sees_the_gap_a_space_after_chinese_punctuation_makes() -> None:
    spaced = "<p><strong>没有恢复套件。</strong>\n  若此人忘记密码</p>"
    assert gaps(spaced) == ["没有恢复套件。 若此人忘记密码"]
    assert gaps("<p>没有恢复套件。</p>\n<p>若此人忘记密码</p>") == []
    assert gaps("<p>指纹：<span>B2A4</span> <button>复制</button></p>") == []


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_staff_pages_set_chinese_sentences_without_a_gap(
    app: Flask, client: FlaskClient, locale: str
) -> None:
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
    directory_service.import_shipped()
    result = app.test_cli_runner().invoke(args=["demo", "--cases", "12"])
    assert result.exit_code == 0, result.output
    sign_in(client, admin)
    client.get(f"/cases/?lang={locale}")
    starts = (*STAFF_PAGES, "/cases/?view=all", "/referrals/?view=all")
    assert gaps_on_pages_reached(app, client, starts) == {}


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_public_pages_set_chinese_sentences_without_a_gap(
    app: Flask, client: FlaskClient, locale: str
) -> None:
    make_org_key()
    client.get(f"/?lang={locale}")
    assert gaps_on_pages_reached(app, client, ("/", "/request", "/status")) == {}


@pytest.mark.parametrize(("locale", "gap"), [("zh_Hant", ""), ("en", " "), ("ar", " ")])
def test_pages_tell_their_scripts_what_goes_between_sentences(
    client: FlaskClient, locale: str, gap: str
) -> None:
    """intake.js, status.js and referral-new.js join their messages with it."""
    make_org_key()
    page = client.get(f"/request?lang={locale}").text
    assert f'data-sentence-gap="{gap}"' in page


def test_sentences_keep_a_templates_markup_escaped_once(app: Flask) -> None:
    """A variable with an apostrophe, escaped by the template's _(), was escaped again."""
    from flask_babel import refresh
    from markupsafe import Markup

    from intake.i18n import sentences

    with app.test_request_context("/?lang=en"):
        joined = sentences(Markup("Press &#39;Send&#39;."), "Then <wait>.")
        assert joined == Markup("Press &#39;Send&#39;. Then &lt;wait&gt;.")
    with app.test_request_context("/?lang=zh_Hant"):
        refresh()  # the locale is kept on g, which outlives a request in a test
        assert sentences("一。", "二。") == "一。二。"
