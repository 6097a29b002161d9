"""The queue's search box without JavaScript, over HTTP. With JavaScript, words are turned into
keyed tokens in the browser and never sent; without it the box sent them in the address, and
the hint under it still said "the server never sees them". Now, without JavaScript, the box
takes a reference only (its pattern, the server's own rule), the hint says that, and words
that reach the server all the same are dropped from the address, its history and the page."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.cases.forms import REFERENCE_INPUT_PATTERN, looks_like_reference
from intake.models import Role
from tests.builders import make_case, make_org_key, sign_in

PROMISE = "the server never sees them"
WORDS = "María López"


def tag(page: str, pattern: str) -> str:
    found = re.search(pattern, page)
    assert found is not None, pattern
    return found.group(0)


def test_without_javascript_the_box_takes_a_reference_and_the_hint_says_so(
    app: Flask, client: FlaskClient
) -> None:
    sign_in(client, Role.CASEWORKER)
    page = client.get("/cases/").get_data(as_text=True)
    box = tag(page, r'<input type="search" id="q"[^>]*>')
    assert f'pattern="{html.escape(REFERENCE_INPUT_PATTERN)}"' in box
    assert 'title="A case reference, like RF-7K2M"' in box
    assert 'aria-describedby="q-hint"' in box
    # The hint a page without JavaScript shows is true of it ...
    plain = tag(page, r'<p class="hint" id="q-hint"[^>]*>[^<]*</p>')
    assert "hidden" not in plain.split(">")[0]
    assert "A case reference, like RF-7K2M." in plain
    assert "needs JavaScript" in plain
    assert PROMISE not in plain
    # ... and the promise waits, hidden, for case-queue.js (which keys the words).
    keyed = tag(page, r'<p class="hint" id="q-hint-keyed"[^>]*>[^<]*</p>')
    assert " hidden>" in keyed
    assert PROMISE in keyed


@pytest.mark.parametrize(
    "text",
    [
        "RF-7K2M",
        "rf-7k2m",
        "rf7k",
        "RF-",
        "RF",
        " RF-7K2M-ABCD ",
        "7K2M",
        "k2m9",
        "AB1",
        "RF-" + "A" * 21,
        "RF-" + "A" * 22,
        "ABCDEFG12",
        "María",
        "Maria Lopez",
        "王小明",
        "0912345678",
        "12345",
        "abcd",
        "RF 7K2M",
        "rf 7k2m 9qxp",
        "RF\t7K2M  9QXP ",
        "RF-" + "A" * 10 + " " * 9 + "B",
        "7K2M 9QXP",
        "Flat 12B",
        "RF-7K2M;",
        "%' OR 1=1",
        "",
    ],
)
def test_the_boxs_pattern_is_the_servers_reference_rule(text: str) -> None:
    """What the browser lets through without JavaScript is what the server searches as a
    reference (anything else it would drop): either case, spaces around it. (An empty box is
    never checked against a pattern: it lists without a search.)"""
    allowed = not text or re.fullmatch(REFERENCE_INPUT_PATTERN, text) is not None
    assert allowed == (looks_like_reference(text) or not text), text


@pytest.mark.parametrize(
    "typed", ["RF SGXW M1F6", "rf sgxwm1f6", "RF-SGXWM1F6", " Rf  SGXWM ", "sgxwm1f6", "RFSGXW"]
)
def test_a_reference_is_found_as_it_is_read_aloud_or_copied(
    app: Flask, client: FlaskClient, typed: str
) -> None:
    """References have no spaces ("RF-SGXWM1F6"), and "RF SGXWM1F6", as one is read out on a
    phone, found nothing."""
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    wanted = make_case(org, ref="RF-SGXWM1F6")
    other = make_case(org, ref="RF-7K2MQQQQ")
    found = client.get("/cases/", query_string={"view": "all", "q": typed})
    assert found.status_code == 200
    page = found.get_data(as_text=True)
    assert wanted.ref in page
    assert other.ref not in page


def test_words_that_reach_the_server_leave_the_address_with_a_note(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    case = make_case(org, ref="RF-7K2M-QQQQ")
    response = client.get(
        "/cases/",
        query_string={"view": "all", "status": "new", "sort": "ref", "page": "2", "q": WORDS},
    )
    # The same list without the words (nor the page): a new address, so the words are in no
    # history entry, no language link and no link of the page.
    assert response.status_code == 303
    location = response.headers["Location"]
    assert urlsplit(location).path == "/cases/"
    assert parse_qs(urlsplit(location).query) == {
        "view": ["all"],
        "status": ["new"],
        "sort": ["ref"],
    }
    shown = client.get(location)
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert "needs JavaScript and your keys unlocked" in page  # why, once
    assert page.count("needs JavaScript and your keys unlocked") == 1
    assert case.ref in page  # the list itself, unsearched
    for trace in ("María", "Mar%C3%ADa", "L%C3%B3pez", "López"):
        assert trace not in page, trace
    # A reference is still searched by the server, in the address as before.
    found = client.get("/cases/", query_string={"view": "all", "q": "rf-7k2m"})
    assert found.status_code == 200
    assert case.ref in found.get_data(as_text=True)


@pytest.mark.parametrize(
    "extra",
    [
        {"_external": "1", "_scheme": "javascript"},
        {"endpoint": "auth.logout", "_anchor": "x"},
        {"lang": "zh_Hant", "next": "https://example.org/"},
        {"t": "zz", "k": "1"},
    ],
)
def test_dropping_the_words_keeps_only_the_lists_own_filters(
    app: Flask, client: FlaskClient, extra: dict[str, str]
) -> None:
    sign_in(client, Role.CASEWORKER)
    response = client.get("/cases/", query_string={"view": "all", "q": WORDS, **extra})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/cases/?")
    kept = parse_qs(urlsplit(location).query)
    assert set(kept) <= {"view", "lang"}
    assert client.get(location).status_code == 200
