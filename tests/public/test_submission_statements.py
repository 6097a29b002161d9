"""A submission costs a bounded number of SQL statements, whatever the size of the tables
(issue 14). On PostgreSQL: the submission token's claim, the case, its consent records and
the chain head's lock in one statement, which also checks that the key this process verified
last (with its pin and the directory version) is still the one in the database; the audit
events with the new head in one more, sent with the COMMIT through the driver
(tests/public/test_commit_with_events.py), where SQLAlchemy's events, which count here, do
not see it: the bound would be 2 all the same.
(When the key or the directory changed, the key is read again first:
tests/public/test_trusted_key.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.extensions import db
from intake.services import directory
from intake.services.audit import verify_chain
from tests.builders import OrgKeyPair, make_case, make_entry, make_org_key
from tests.public.conftest import full_answers, routing_form

# The commit is not a statement. SQLite has no data-modifying CTE: the case, each consent
# record, the head's lock, the events and the head's update are statements of their own.
# The forms carry a submission token, as the pages do: SQLite claims it with a statement of its
# own.
MOST_STATEMENTS = {"postgresql": 1, "sqlite": 8}
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def counted() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def _browser_form(client: FlaskClient, org: OrgKeyPair) -> dict[str, Any]:
    token = client.get("/request/key").get_json()["csrf_token"]
    return {
        "csrf_token": token,
        "sealed_answers": crypto.seal_answers(full_answers(), org.public),
        "org_key_id": org.key.id,
        "consent_given": "1",
        **routing_form(),
    }


def _no_js_form(client: FlaskClient) -> dict[str, Any]:
    token = client.get("/request/key").get_json()["csrf_token"]
    return {"csrf_token": token, **full_answers(), **routing_form()}


def _statements_per_submission(client: FlaskClient, form: dict[str, Any], status: int) -> int:
    # First plans, the triage index, the pin check. Each post is a new request (its own token).
    client.post("/request", data={**form, "submission_token": crypto.new_submission_token()})
    with counted() as statements:
        response = client.post(
            "/request", data={**form, "submission_token": crypto.new_submission_token()}
        )
    assert response.status_code == status
    return len(statements)


@pytest.fixture(params=BACKENDS)
def submitting(make_app: Any, request: pytest.FixtureRequest) -> Iterator[tuple[FlaskClient, Any]]:
    """A client of the public form (shipped directory, an organisation key) on each database."""
    app: Flask = make_app(request.param, REQUEST_RATE_LIMIT="1000 per hour")
    with app.app_context():
        directory.import_shipped()
        yield app.test_client(), make_org_key()
        assert verify_chain().ok


def test_a_submission_takes_a_bounded_number_of_statements_on_either_path(
    submitting: tuple[FlaskClient, Any],
) -> None:
    client, org = submitting
    most = MOST_STATEMENTS[db.engine.dialect.name]
    assert _statements_per_submission(client, _browser_form(client, org), 201) <= most
    assert _statements_per_submission(client, _no_js_form(client), 303) <= most


def test_the_statements_per_submission_do_not_grow_with_the_directory_or_the_cases(
    submitting: tuple[FlaskClient, Any],
) -> None:
    client, org = submitting
    small = _statements_per_submission(client, _browser_form(client, org), 201)
    for number in range(40):
        make_entry(f"more-ngo-{number}", regions=["global"], threats=["detention"])
        make_case(org)
    large = _statements_per_submission(client, _browser_form(client, org), 201)
    assert large == small
