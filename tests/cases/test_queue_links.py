"""The queue's own links (sort headers, pages, tabs, "same filters in All open") carry the
names the queue reads and nothing else.

Every name in the address went through to url_for: "_external" and "_scheme" made every sort
and page link an absolute https:// link, "_anchor" put a "#…" on each, "_method" was a 500,
and any other name ("foo") rode along from page to page and opened the Filters panel."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseSearchToken, CaseStatus, Role
from intake.services import queue as queue_service
from tests.builders import make_case, make_org_key, sign_in

TOKEN = "0123456789abcdef0123456789abcdef"

# Names url_for reads itself, hostile values, and names the queue does not know.
HOSTILE = [
    "_external=1",
    "_external=1&_scheme=https",
    "_external=1&_scheme=javascript",
    "_anchor=x",
    "_anchor=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
    "_method=POST",
    "_method=%3Cscript%3E",
    "foo=%3Cscript%3Ealert(1)%3C/script%3E",
    "%3Cscript%3E=1",
    "_external=1&_anchor=x&foo=%3Cb%3E",
    "ref=RF-X&endpoint=admin.index&values=1",
    "t=not-a-token&k=1",
    "t=" + TOKEN + "&k=%3Cscript%3E",
]


@pytest.fixture
def signed_in(any_app: Flask) -> FlaskClient:
    """A caseworker's client on a queue of three pages of open cases."""
    client = any_app.test_client()
    sign_in(client, Role.CASEWORKER)
    org = make_org_key()
    for number in range(2 * queue_service.PAGE_SIZE + 1):
        make_case(
            org,
            ref=f"RF-L{number:03d}",
            status=CaseStatus.ASSESSING,
            received_at=utcnow() - timedelta(hours=number),
        )
    return client


def queue_links(html: str) -> list[str]:
    """Every link the page builds to the queue itself (its tabs, sort headers, pages, filters),
    as written in the href; the language switch's links aside (they carry the address as it
    came, percent-encoded, and are no url_for)."""
    hrefs = [unescape(href) for href in re.findall(r'<a href="([^"]*)"', html)]
    return [
        href
        for href in hrefs
        if ("/cases/?" in href or href.endswith("/cases/")) and "lang=" not in href
    ]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_names_the_queue_does_not_read_never_reach_its_links(
    signed_in: FlaskClient, hostile: str
) -> None:
    response = signed_in.get(f"/cases/?view=open&sort=ref&page=2&{hostile}")
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    links = queue_links(html)
    # Its sort headers and pages are there, as the queue builds them.
    assert any("sort=ref_desc" in link for link in links), links
    assert any("page=3" in link for link in links), links
    for link in links:
        parts = urlsplit(link)
        # Relative, to this very page, with no fragment.
        assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("", "", "/cases/", "")
        names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
        assert names <= {"view", "sort", "page"}, link
    # Nothing of the hostile part is on the page unescaped, nor as a filter it applied.
    assert "<script>" not in html
    assert "<b>" not in html
    assert "Clear filters" not in html
    assert 'queue-filter-panel" open' not in html


def test_the_filters_and_search_are_still_carried_from_page_to_page(
    signed_in: FlaskClient,
) -> None:
    html = signed_in.get(
        "/cases/?view=all&status=assessing&urgency=days&threat=detention&country=mx"
        "&assignee=unassigned&overdue=&q=RF-L&sort=ref&_external=1&foo=bar"
    ).get_data(as_text=True)
    nexts = [link for link in queue_links(html) if "page=2" in link]
    assert nexts, queue_links(html)
    carried = dict(parse_qsl(urlsplit(nexts[0]).query))
    assert carried == {
        "view": "all",
        "status": "assessing",
        "urgency": "days",
        "threat": "detention",
        "country": "mx",
        "assignee": "unassigned",
        "q": "RF-L",
        "sort": "ref",
        "page": "2",
    }


def test_a_search_by_tokens_is_carried_only_when_it_could_be_read(
    signed_in: FlaskClient,
) -> None:
    """Keyed tokens the server could not read (the page says so) are not carried on: each
    page would say it again. Read ones are, with their key (a search's further pages)."""
    unreadable = signed_in.get(f"/cases/?view=all&t={TOKEN}&k=x&sort=ref").get_data(as_text=True)
    assert "This search could not be read" in unreadable
    carried = [dict(parse_qsl(urlsplit(link).query)) for link in queue_links(unreadable)]
    assert carried
    assert all("t" not in names and "k" not in names for names in carried), carried
    case = db.session.scalars(sa.select(Case).where(Case.ref == "RF-L001")).one()
    key_id = case.org_key_id
    db.session.add(CaseSearchToken(case_id=case.id, token=TOKEN, org_key_id=key_id))
    db.session.commit()
    read = signed_in.get(f"/cases/?view=all&t={TOKEN}&k={key_id}&sort=ref")
    html = read.get_data(as_text=True)
    assert 'href="/cases/RF-L001"' in html
    sorts = [link for link in queue_links(html) if "sort=ref_desc" in link]
    assert sorts, queue_links(html)
    assert dict(parse_qsl(urlsplit(sorts[0]).query)) == {
        "view": "all",
        "t": TOKEN,
        "k": str(key_id),
        "sort": "ref_desc",
    }


def test_a_value_the_queue_does_not_offer_is_refused_and_not_echoed(
    signed_in: FlaskClient,
) -> None:
    response = signed_in.get("/cases/?view=open&sort=%3Cscript%3E&_external=1")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "<script>" not in body
    assert "http://localhost" not in body
