"""On PostgreSQL a submission's audit events, the chain head and the COMMIT go to the server in
one message (``audit.record_all(commit=True)``): the head's lock, which every audited write
waits for, is held one round trip less. It is still one transaction: all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.services import audit, directory
from intake.services.audit import verify_chain
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import table_count
from tests.public.conftest import full_answers, routing_form

pytestmark = pytest.mark.postgres


@pytest.fixture
def public(make_app: Any) -> Iterator[tuple[FlaskClient, OrgKeyPair, str]]:
    app: Flask = make_app("postgres", REQUEST_RATE_LIMIT="1000 per hour")
    with app.app_context():
        directory.import_shipped()
        org = make_org_key()
        client = app.test_client()
        token = client.get("/request/key").get_json()["csrf_token"]
        yield client, org, token
        assert verify_chain().ok


def _browser_form(org: OrgKeyPair, token: str) -> dict[str, Any]:
    return {
        "csrf_token": token,
        "sealed_answers": crypto.seal_answers(full_answers(), org.public),
        "org_key_id": org.key.id,
        "consent_given": "1",
        **routing_form(),
    }


def test_each_submission_commits_with_its_events(
    public: tuple[FlaskClient, OrgKeyPair, str], one_message_commits: list[int]
) -> None:
    client, org, token = public
    sent = one_message_commits
    events_before = table_count("audit_events")
    for _ in range(2):  # the first reads the key, the second trusts it: both end alike
        assert client.post("/request", data=_browser_form(org, token)).status_code == 201
    data = {"csrf_token": token, **full_answers(), **routing_form()}
    assert client.post("/request", data=data).status_code == 303
    # The case's event and one per consent purpose, in one message each time.
    assert sent == [3, 3, 3]
    assert table_count("cases") == 3
    assert table_count("audit_events") == events_before + 9


def test_when_the_events_fail_nothing_of_the_submission_is_stored(
    public: tuple[FlaskClient, OrgKeyPair, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, org, token = public
    assert client.post("/request", data=_browser_form(org, token)).status_code == 201
    events_before = table_count("audit_events")
    # The case and its consent records are inserted by then, in the same transaction.
    monkeypatch.setattr(audit, "_append_and_commit_sql", lambda count: "SELECT 1/0; COMMIT")
    response = client.post("/request", data=_browser_form(org, token))
    assert response.status_code == 500
    assert table_count("cases") == 1
    assert table_count("consent_records") == 2
    assert table_count("audit_events") == events_before
