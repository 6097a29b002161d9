"""The four 500s of the outside review (issue #15, item 1): each is now a clear 400.

Each test sends exactly what the reviewers sent; none needs a valid CSRF token, because the
crash happened before (or instead of) the token check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder, run_wsgi_app

from intake.extensions import db
from intake.models import Case, Role
from tests.builders import OrgKeyPair, make_case, make_org_key, make_user, sign_in
from tests.conftest import table_count

BOUNDARY = "refugeXboundary"
# A part header with a doubled ';' and a NUL before the quoted name, then a part with no name.
NAMELESS_PARTS = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data;; name=\x00"email"\r\n\r\nx@example.org\r\n'
    f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nno name at all\r\n"
    f"--{BOUNDARY}--\r\n"
).encode()
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def hostile_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app("sqlite", RATELIMIT_ENABLED=False)
    with app.app_context():
        yield app


@pytest.fixture
def org(hostile_app: Flask) -> OrgKeyPair:
    return make_org_key()


@pytest.mark.parametrize(
    "path", ["/login", "/login/code", "/admin/settings", "/status", "/status/follow-up", "/request"]
)
def test_nameless_multipart_parts_are_a_clear_400(
    hostile_app: Flask, org: OrgKeyPair, path: str
) -> None:
    make_case(org)
    cases_before = table_count("cases")
    response = hostile_app.test_client().post(path, data=NAMELESS_PARTS, content_type=MULTIPART)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "could not be understood" in response.get_data(as_text=True)
    assert table_count("cases") == cases_before
    assert table_count("case_messages") == 0


def test_nameless_parts_are_refused_in_the_visitors_language(
    hostile_app: Flask, org: OrgKeyPair
) -> None:
    response = hostile_app.test_client().post(
        "/login?lang=zh_Hant", data=NAMELESS_PARTS, content_type=MULTIPART
    )
    assert response.status_code == 400
    assert "無法理解此請求" in response.get_data(as_text=True)


def test_a_blank_outcome_is_a_form_error_not_a_crash(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app("sqlite", RATELIMIT_ENABLED=False, WTF_CSRF_ENABLED=False)
    with app.app_context():
        case = make_case(make_org_key())
        status_before = case.status
        client = app.test_client()
        sign_in(client, make_user(Role.CASEWORKER))
        response = client.post(
            f"/cases/{case.ref}/status",
            data={"status": "closed", "outcome": " ", "from_status": case.status.value},
        )
        assert response.status_code == 400
        assert "Choose an outcome to close the case" in response.get_data(as_text=True)
        db.session.expire_all()
        stored = db.session.get(Case, case.id)
        assert stored is not None
        assert stored.status == status_before
        assert stored.outcome is None


LONG_LABEL_HOST = "a" * 64 + ".example.org"


@pytest.mark.parametrize("host", [LONG_LABEL_HOST, "xn--"])
@pytest.mark.parametrize("path", ["/", "/no-such-page", "/login", "/cases/"])
def test_a_host_that_is_no_valid_name_is_a_400_and_logs_no_traceback(
    hostile_app: Flask, caplog: pytest.LogCaptureFixture, path: str, host: str
) -> None:
    """A label over 63 characters fails routing; ``xn--`` routes but cannot be decoded back
    (the sign-in redirect of /cases/ reads the full URL). Sent straight to the WSGI app: the
    test client's cookie jar would trip over these hosts itself."""
    hostile_app.testing = False  # answer as in production: no exception re-raised to the test
    environ = EnvironBuilder(path=path, headers=[("Host", host)]).get_environ()
    with caplog.at_level(logging.INFO):
        body, status, _ = run_wsgi_app(hostile_app, environ, buffered=True)
    assert status.startswith("400 ")
    assert b"could not be understood" in b"".join(body)
    assert not [record for record in caplog.records if record.exc_info]
    assert "Traceback" not in caplog.text
    assert host not in caplog.text


def test_an_error_inside_an_error_page_logs_one_line_without_the_message(
    hostile_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Flask's own last-resort logger (an error handler that fails) keeps the app's rule:
    the exception's type and place, never its message, which may quote the request."""
    hostile_app.testing = False

    @hostile_app.get("/explode-twice")
    def explode_twice() -> str:
        raise LookupError("secret-canary-from-request")

    @hostile_app.errorhandler(LookupError)
    def broken_handler(error: LookupError) -> str:
        raise KeyError("secret-canary-in-handler")

    with caplog.at_level(logging.INFO):
        response = hostile_app.test_client().get("/explode-twice")
    assert response.status_code == 500
    assert "secret-canary" not in caplog.text
    assert not [record for record in caplog.records if record.exc_info]
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "KeyError" in errors[0].getMessage()
