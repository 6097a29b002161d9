"""On PostgreSQL a queue listing that is its own transaction sends its audit event, the chain
head and the COMMIT in one message (``audit.record_all(commit=True)``); inside a caller's
transaction it leaves the commit to the caller, so a rollback there takes the event too."""

from __future__ import annotations

import pytest
from flask import Flask

from intake.extensions import db
from intake.models import Role, User
from intake.services import queue as queue_service
from intake.services.audit import verify_chain
from intake.services.transactions import transaction
from tests.builders import make_case, make_org_key, make_user
from tests.conftest import table_count

pytestmark = pytest.mark.postgres


@pytest.fixture
def viewer(pg_app: Flask) -> User:
    """A caseworker, with one case to list."""
    make_case(make_org_key(), ref="RF-C001")
    user = make_user(Role.CASEWORKER)
    db.session.commit()
    return user


def test_a_listing_commits_with_its_event(viewer: User, one_message_commits: list[int]) -> None:
    before = table_count("audit_events")

    page = queue_service.queue(queue_service.QueueFilters(view="all"), viewer)

    assert [row.case.ref for row in page.rows] == ["RF-C001"]
    assert one_message_commits == [1]
    db.session.rollback()  # nothing left to undo: the event is committed
    assert table_count("audit_events") == before + 1
    assert verify_chain().ok


def test_inside_a_transaction_the_caller_commits(
    viewer: User, one_message_commits: list[int]
) -> None:
    before = table_count("audit_events")

    def caller_that_fails_after_listing() -> None:
        with transaction():
            queue_service.queue(queue_service.QueueFilters(view="all"), viewer)
            raise RuntimeError("the caller fails after the listing")

    with pytest.raises(RuntimeError):
        caller_that_fails_after_listing()

    assert one_message_commits == []
    assert table_count("audit_events") == before
    assert verify_chain().ok
