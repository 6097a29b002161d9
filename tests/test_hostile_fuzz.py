"""A fuzzer of multipart bodies, part headers and odd request headers over every route and role
(issue #15): whatever arrives, the answer is never a 5xx and nothing is written.

Routes are read from ``app.url_map`` (new routes are fuzzed without editing this file); each
request goes out as an anonymous visitor or a signed-in viewer, caseworker or admin, and in
most examples carries that client's real CSRF token, so the views' own parsing and validation
are reached rather than only the CSRF check in front of them. Bounded: a few hundred examples,
well under a minute on a shared machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

from intake.extensions import db
from intake.models import Role
from tests.auth.helpers import csrf_token
from tests.builders import make_attachment, make_case, make_org_key, make_user, sign_in
from tests.test_authorisation_matrix import routes, url_for_rule

# Tables a request may legitimately change without "writing" anything a user sent: reads are
# audited, sign-in state moves on, rate-limit and session rows come and go.
BOOKKEEPING_TABLES = ("audit_events", "audit_chain_head", "staff_sessions", "users")

CSRF_REFUSAL = b"Your form expired or was sent from elsewhere"
FIELD_NAMES = [
    "csrf_token", "email", "password", "code", "body", "sealed_body", "sealed_answers",
    "org_key_id", "urgency", "threats", "profiles", "country", "languages", "consent_given",
    "website", "attachments", "status", "from_status", "outcome", "assignee", "note",
    "sealed_copy", "name", "role", "timezone", "what_happened", "q", "lang", "next",
]  # fmt: skip

text = st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=40)
odd_text = st.one_of(
    text,
    st.sampled_from(
        ["", " ", "\x00", "\r\n", '"', ";", "=", "%00", "..", "\\", "金絲雀", "\u202e"]
    ),
)
field_name = st.one_of(st.sampled_from(FIELD_NAMES), odd_text)
file_part_name = st.sampled_from(["sealed", "sealed.bin"])


@st.composite
def part_header(draw: st.DrawFn) -> str:
    name = draw(field_name)
    well_formed = f'form-data; name="{name}"'
    disposition = draw(
        st.sampled_from(
            [
                well_formed,
                well_formed,
                well_formed,
                well_formed,
                f'form-data;; name=\x00"{name}"',
                "form-data",
                f"form-data; name={name}",
                f'form-data; name="{name}"; filename="{draw(odd_text)}"',
                # A sealed file's part as the browser names it: raw, or an older page's base64.
                f'form-data; name="{name}"; filename="{draw(file_part_name)}"',
                f"form-data; name*=UTF-8''{name}",
                f'form-data; name="{name}"; name="{draw(field_name)}"',
                f'attachment; name="{name}"',
                draw(odd_text),
            ]
        )
    )
    header = f"Content-Disposition: {disposition}"
    extra = draw(
        st.sampled_from(
            [
                "",
                "\r\nContent-Type: text/plain; charset=utf-8",
                "\r\nContent-Type: text/plain; charset=x-no-such-charset",
                "\r\nContent-Type: application/octet-stream",
                "\r\nContent-Transfer-Encoding: base64",
                f"\r\nContent-Type: {draw(odd_text)}",
            ]
        )
    )
    return header + extra


@st.composite
def multipart_body(draw: st.DrawFn, token: str | None) -> tuple[bytes, str]:
    boundary = draw(st.sampled_from(["fuzzboundary", "fuzzboundary", "a", "--", "x" * 70]))
    parts: list[bytes] = []
    if token is not None:
        parts.append(f'Content-Disposition: form-data; name="csrf_token"\r\n\r\n{token}'.encode())
    for _ in range(draw(st.integers(0, 4))):
        value = draw(st.one_of(odd_text.map(str.encode), st.binary(max_size=64)))
        parts.append(draw(part_header()).encode("utf-8", "surrogatepass") + b"\r\n\r\n" + value)
    delimiter = f"--{boundary}\r\n".encode()
    body = b"".join(delimiter + part + b"\r\n" for part in parts)
    closing = f"--{boundary}--\r\n"
    ending = draw(st.sampled_from([closing, closing, closing, "", f"--{boundary}", "--"]))
    content_type = draw(
        st.sampled_from(
            [
                f"multipart/form-data; boundary={boundary}",
                f"multipart/form-data; boundary={boundary}",
                f"multipart/form-data; boundary={boundary}",
                f'multipart/form-data; boundary="{boundary}"',
                "multipart/form-data",
                'multipart/form-data; boundary=""',
                f"multipart/form-data; boundary={boundary}; charset=x-no-such-charset",
                f"multipart/mixed; boundary={boundary}",
            ]
        )
    )
    return body + ending.encode(), content_type


@st.composite
def urlencoded_body(draw: st.DrawFn, token: str | None) -> tuple[bytes, str]:
    pairs = [(draw(field_name), draw(odd_text)) for _ in range(draw(st.integers(0, 4)))]
    if token is not None:
        pairs.insert(0, ("csrf_token", token))
    raw = "&".join(f"{key}={value}" for key, value in pairs).encode("utf-8", "surrogatepass")
    content_type = draw(
        st.sampled_from(
            [
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded; charset=utf-16",
                "application/x-www-form-urlencoded; charset=x-no-such-charset",
                "application/json",
                "text/plain",
            ]
        )
    )
    return raw, content_type


ODD_HEADERS: dict[str, list[str]] = {
    "Host": [
        "a" * 64 + ".example.org",
        "a..b",
        "[::1",
        "xn--",
        "例え.テスト",
        "localhost:99999",
        "",
    ],
    "Accept": ["application/json", "*/*;q=x", "text/html;level=\x7f", ""],
    "Accept-Language": ["zh-Hant", "xx-YY;q=2", "*", ";;;", "ar,zh;q=abc"],
    "X-Refuge-Keyring": ["1", ""],
    "Content-Length": ["0", "5", "-1", "99999999999999999999"],
}


@st.composite
def odd_headers(draw: st.DrawFn) -> dict[str, str]:
    """Each odd header in about one request of four, so that most bodies still arrive whole."""
    headers: dict[str, str] = {}
    for name, values in ODD_HEADERS.items():
        if draw(st.integers(0, 3)) == 0:
            headers[name] = draw(st.sampled_from(values))
    if draw(st.integers(0, 3)) == 0:
        # A header value cannot hold a line break on the wire either.
        headers["X-CSRFToken"] = draw(odd_text.filter(lambda v: "\r" not in v and "\n" not in v))
    return headers


@dataclass
class World:
    app: Flask
    cookies: dict[str, str]
    tokens: dict[str, str]
    values: dict[str, Any]


@pytest.fixture
def world(make_app: Callable[..., Flask]) -> Iterator[World]:
    app = make_app("sqlite", RATELIMIT_ENABLED=False)
    with app.app_context():
        org = make_org_key()
        case = make_case(org)
        attachment = make_attachment(case, org)
        clients: dict[str, FlaskClient] = {"anonymous": app.test_client()}
        tokens = {"anonymous": csrf_token(clients["anonymous"], "/login")}
        for role in Role:
            client = app.test_client()
            sign_in(client, make_user(role))
            clients[role.value] = client
            tokens[role.value] = csrf_token(client, "/cases/")
        values = {"ref": case.ref, "attachment_id": attachment.id, "filename": "css/refuge.css"}
        # Each request carries its role's cookie by hand straight to the WSGI app: the test
        # client's cookie jar parses the Host header after the app answers and fails on the
        # odd ones itself.
        cookies = {}
        for who, client in clients.items():
            cookie = client.get_cookie("refuge_session")
            assert cookie is not None
            cookies[who] = f"refuge_session={cookie.value}"
        yield World(app, cookies, tokens, values)


def _stored() -> str:
    """The database as text, without the bookkeeping tables."""
    kept = [t for t in db.metadata.sorted_tables if t.name not in BOOKKEEPING_TABLES]
    return "\n".join(
        repr(tuple(row)) for table in kept for row in db.session.execute(table.select())
    )


def test_fuzzed_bodies_and_headers_never_answer_5xx_nor_write(world: World) -> None:
    app = world.app
    targets = [
        (url_for_rule(rule, method, world.values), method, rule.endpoint)
        for rule, method in routes(app)
        # Routes that take no input at all: with a valid CSRF token any body performs them, by
        # design. Signing out would end the role's session; replacing one's own recovery codes
        # is a write the test would see.
        if rule.endpoint
        not in {"auth.logout", "auth.logout_everywhere", "auth.regenerate_recovery_codes"}
    ]
    # Changing routes with ids get harmless dummies (a 404 once past CSRF and roles: nothing
    # to write to); those without ids reach their form parsing and validation, so they are
    # drawn more often.
    form_targets = [
        t
        for t in targets
        if t[1] == "POST"
        and "<" not in t[0]
        and "987654" not in t[0]
        and "no-such-thing" not in t[0]
    ]
    before = _stored()
    failures: list[str] = []
    reached_views: set[str] = set()

    @settings(
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        path, method, endpoint = data.draw(
            st.one_of(st.sampled_from(targets), st.sampled_from(form_targets)), label="route"
        )
        who = data.draw(st.sampled_from(sorted(world.cookies)), label="who")
        token = world.tokens[who] if data.draw(st.booleans(), label="with token") else None
        body_kind = data.draw(st.sampled_from(["multipart", "urlencoded", "none"]))
        headers = data.draw(odd_headers(), label="headers")
        kwargs: dict[str, Any] = {
            "method": method,
            "headers": {**headers, "Cookie": world.cookies[who]},
        }
        if body_kind == "multipart":
            body, content_type = data.draw(multipart_body(token), label="multipart")
            kwargs.update(data=body, content_type=content_type)
        elif body_kind == "urlencoded":
            body, content_type = data.draw(urlencoded_body(token), label="urlencoded")
            kwargs.update(data=body, content_type=content_type)
        environ = EnvironBuilder(path=path, **kwargs).get_environ()
        chunks, status_line, _ = run_wsgi_app(app, environ, buffered=True)
        status = int(status_line.split()[0])
        if method == "POST" and token is not None and status not in {302, 403, 404, 405}:
            page = b"".join(chunks)
            if CSRF_REFUSAL not in page and b"could not be understood" not in page:
                reached_views.add(endpoint)
        if status >= 500:
            failures.append(f"{method} {path} ({endpoint}) as {who}: {status}")
        assert status < 500, failures[-1]

    fuzz()
    db.session.rollback()
    assert _stored() == before, "a fuzzed request wrote something"
    assert not failures
    # The fuzz reached the views' own parsing, not only the checks in front of them.
    assert len(reached_views) >= 3, sorted(reached_views)
