"""On PostgreSQL a queue listing that is its own transaction sends its audit event, the chain
head and the COMMIT in one message (``audit.record_all(commit=True)``); inside a caller's
transaction it leaves the commit to the caller, so a rollback there takes the event too."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake.extensions import db
from intake.models import Role
from intake.services import audit
from intake.services import queue as queue_service
from intake.services.audit import verify_chain
from intake.services.transactions import transaction
from tests.builders import make_case, make_org_key, make_user
from tests.conftest import table_count

pytestmark = pytest.mark.postgres


def _listed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    original = audit._append_and_commit  # noqa: SLF001

    def counting(count: int, values: dict[str, Any]) -> None:
        sent.append(count)
        original(count, values)

    monkeypatch.setattr(audit, "_append_and_commit", counting)
    return sent


def test_a_listing_commits_with_its_event(pg_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    org = make_org_key()
    make_case(org, ref="RF-C001")
    viewer = make_user(Role.CASEWORKER)
    db.session.commit()
    sent = _listed(monkeypatch)
    before = table_count("audit_events")

    page = queue_service.queue(queue_service.QueueFilters(view="all"), viewer)

    assert [row.case.ref for row in page.rows] == ["RF-C001"]
    assert sent == [1]
    db.session.rollback()  # nothing left to undo: the event is committed
    assert table_count("audit_events") == before + 1
    assert verify_chain().ok


def test_inside_a_transaction_the_caller_commits(
    pg_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org_key()
    make_case(org, ref="RF-C002")
    viewer = make_user(Role.CASEWORKER)
    db.session.commit()
    sent = _listed(monkeypatch)
    before = table_count("audit_events")

    def caller_that_fails_after_listing() -> None:
        with transaction():
            queue_service.queue(queue_service.QueueFilters(view="all"), viewer)
            raise RuntimeError("the caller fails after the listing")

    with pytest.raises(RuntimeError):
        caller_that_fails_after_listing()

    assert sent == []
    assert table_count("audit_events") == before
    assert verify_chain().ok
