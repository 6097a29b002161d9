"""Audited writes from several processes at once (PostgreSQL): they take turns at the chain
head, each links to the one before, and the chain verifies. A writer that waited for the head
takes the head it then holds, without reading the newest event again (``audit.head_lock``)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask

from intake import crypto
from intake.services import audit, directory
from intake.services.audit import verify_chain
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import full_answers, routing_form

pytestmark = pytest.mark.postgres

WRITERS = 4
EACH = 15


def test_concurrent_submissions_keep_one_verifiable_chain(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app: Flask = make_app("postgres", REQUEST_RATE_LIMIT="10000 per hour")
    with app.app_context():
        directory.import_shipped()
        org = make_org_key()
        sealed = crypto.seal_answers(full_answers(), org.public)
        events_before = table_count("audit_events")
    fallbacks: list[int] = []
    original = audit._newest_event_hash  # noqa: SLF001

    def counted() -> str:
        fallbacks.append(1)
        return original()

    monkeypatch.setattr(audit, "_newest_event_hash", counted)
    statuses: list[int] = []
    start = threading.Barrier(WRITERS)

    def writer() -> None:
        client = app.test_client()
        token = client.get("/request/key").get_json()["csrf_token"]
        form = {
            "csrf_token": token,
            "sealed_answers": sealed,
            "org_key_id": org.key.id,
            "consent_given": "1",
            **routing_form(),
        }
        start.wait()
        for _ in range(EACH):
            statuses.append(client.post("/request", data=form).status_code)

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * (WRITERS * EACH)
    with app.app_context():
        assert table_count("cases") == WRITERS * EACH
        # Each submission: its own event and one per consent purpose.
        assert table_count("audit_events") == events_before + 3 * WRITERS * EACH
        check = verify_chain()
        assert check.ok, check
    assert fallbacks == []
