"""The outbox's status index holds e-mails, not the reminder items their batches carry (issue
14: a scan writes thousands of items, and each index is part of that statement's cost), and
every query that finds e-mails by status still finds them by index."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from intake.db import utcnow
from intake.extensions import db
from intake.models import OutboxStatus, ReminderOutbox
from intake.services import delivery, reminders, reports, retention
from tests import services
from tests.builders import make_user

STATUS_INDEX = "ix_reminder_outbox_status_queued"


def index_predicate(name: str) -> str | None:
    """The WHERE clause of index ``name`` as the database stores it (None: a full index)."""
    if db.engine.dialect.name == "postgresql":
        return db.session.scalar(
            sa.text(
                "SELECT pg_get_expr(indpred, indrelid) FROM pg_index "
                "WHERE indexrelid = CAST(:name AS regclass)"
            ),
            {"name": name},
        )
    sql = db.session.scalar(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"),
        {"name": name},
    )
    assert sql is not None, f"no index {name}"
    _create, where, predicate = sql.partition(" WHERE ")
    return predicate if where else None


def rows_the_index_holds(name: str) -> set[str]:
    """The outbox rows (by dedupe key) that index ``name`` holds, by its stored predicate."""
    predicate = index_predicate(name)
    where = f" WHERE {predicate}" if predicate else ""
    held = set(db.session.scalars(sa.text(f"SELECT dedupe_key FROM reminder_outbox{where}")))  # noqa: S608
    db.session.commit()  # (a migration must not wait for this read's lock)
    return held


def one_of_each_row() -> None:
    """A batch and the item it carries, a digest, and a reminder mailed alone before batches."""
    recipient = make_user().id
    now = utcnow()
    common: dict[str, Any] = {"recipient_id": recipient, "created_at": now, "counts": {}}
    batch = ReminderOutbox(
        dedupe_key="batch", kind="batch", offset_key="day", status=OutboxStatus.SENT, **common
    )
    db.session.add(batch)
    db.session.flush()
    db.session.add_all(
        [
            ReminderOutbox(
                dedupe_key="item",
                kind="reminder",
                offset_key="d7",
                status=OutboxStatus.SENT,
                batch_id=batch.id,
                **common,
            ),
            ReminderOutbox(
                dedupe_key="digest",
                kind="digest",
                offset_key="day",
                status=OutboxStatus.SENT,
                **common,
            ),
            ReminderOutbox(
                dedupe_key="alone",
                kind="reminder",
                offset_key="d7",
                status=OutboxStatus.FAILED,
                **common,
            ),
        ]
    )
    db.session.commit()


def test_the_status_index_holds_emails_and_leaves_batched_items_out(any_app: Flask) -> None:
    one_of_each_row()
    assert rows_the_index_holds(STATUS_INDEX) == {"batch", "digest", "alone"}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_migration_leaves_batched_items_out_of_the_status_index_and_back_in(
    unmigrated_app: Callable[[str], Flask], backend: str
) -> None:
    app = unmigrated_app(backend)
    with app.app_context():
        services.empty_database()
        upgrade(revision="0022")
        one_of_each_row()
        assert rows_the_index_holds(STATUS_INDEX) == {"batch", "item", "digest", "alone"}
        upgrade()
        assert rows_the_index_holds(STATUS_INDEX) == {"batch", "digest", "alone"}
        downgrade(revision="0022")
        assert rows_the_index_holds(STATUS_INDEX) == {"batch", "item", "digest", "alone"}
        db.session.remove()
        db.engine.dispose()


def a_years_outbox() -> None:
    """20,000 reminder items in 2,000 batches, nearly all sent; a few batches pending, failed or
    emptied; digests. Analysed, so that the planner knows how few the e-mails are."""
    recipient = make_user().id
    for statement in (
        """INSERT INTO reminder_outbox (dedupe_key, kind, recipient_id, offset_key, counts,
               status, attempts, unacknowledged, created_at, sent_at)
           SELECT 'batch:' || n, 'batch', :recipient, 'day', '{}',
                  CASE WHEN n <= 5 THEN 'pending' WHEN n <= 7 THEN 'failed'
                       WHEN n <= 9 THEN 'cancelled' ELSE 'sent' END,
                  1, 0, now() - interval '300 days', now() - n * interval '1 hour'
           FROM generate_series(1, 2000) AS n""",
        # The last ten batches carry nothing (their items went with their cases).
        """INSERT INTO reminder_outbox (dedupe_key, kind, recipient_id, offset_key, counts,
               status, attempts, unacknowledged, created_at, batch_id)
           SELECT 'reminder:' || n, 'reminder', :recipient, 'd7', '{}', batch.status, 0, 0,
                  now() - interval '300 days', batch.id
           FROM generate_series(1, 20000) AS n
           JOIN reminder_outbox AS batch ON batch.dedupe_key = 'batch:' || (mod(n, 1990) + 1)""",
        """INSERT INTO reminder_outbox (dedupe_key, kind, recipient_id, offset_key, counts,
               status, attempts, unacknowledged, created_at, sent_at)
           SELECT 'digest:' || n, 'digest', :recipient, 'day', '{}', 'sent', 1, 0,
                  now() - interval '300 days', now() - n * interval '1 day'
           FROM generate_series(1, 300) AS n""",
    ):
        db.session.execute(sa.text(statement), {"recipient": recipient})
    db.session.commit()
    db.session.execute(sa.text("ANALYZE reminder_outbox"))
    db.session.commit()


def plans_of(run: Callable[[], Any]) -> list[tuple[str, str]]:
    """Each statement over the outbox that ``run`` executes, with its plan (EXPLAIN, with the
    same parameters); everything ``run`` did is rolled back."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if "reminder_outbox" in statement and not statement.startswith("EXPLAIN"):
            statements.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
        db.session.rollback()
    postgresql = db.engine.dialect.name == "postgresql"
    plans = []
    for statement, parameters in statements:
        connection = db.session.connection()
        explain = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
        plan = [
            str(line[-1]) for line in connection.exec_driver_sql(explain + statement, parameters)
        ]
        plans.append((" ".join(statement.split())[:120], "\n".join(plan)))
        db.session.rollback()
    return plans


def reads_the_whole_outbox(plan: str) -> bool:
    """PostgreSQL's sequential scan, or SQLite's scan of the table or of a whole index."""
    return "Seq Scan on reminder_outbox" in plan or any(
        line.startswith("SCAN reminder_outbox") for line in plan.splitlines()
    )


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_every_query_by_status_finds_its_emails_by_index_not_by_reading_the_outbox(
    make_app: Callable[..., Flask], backend: str
) -> None:
    """On PostgreSQL over a year's outbox, analysed; SQLite's planner goes by the indexes."""
    with make_app(backend, DAILY_DIGEST=False).app_context():
        if backend == "postgres":
            a_years_outbox()
        every_query_by_status_reads_the_status_index()


def every_query_by_status_reads_the_status_index() -> None:
    now = utcnow() + timedelta(hours=1)
    year = reports.Period(date(2000, 1, 1), date(2100, 1, 1), ZoneInfo("UTC"))
    by_status = {
        "queue": lambda: reminders._rows_to_queue(now),
        "stale claims": lambda: reminders._recover_stale_claims(now),
        "failed count": delivery.failed_count,
        "failed rows": delivery.failed_rows,
        "report": lambda: reports.reminders_sent(year),
        "emptied batches": retention._drop_emptied_batches,
    }
    for name, run in by_status.items():
        plans = plans_of(run)
        assert plans, name
        statement, plan = plans[0]
        assert STATUS_INDEX in plan, f"{name}: {statement}\n{plan}"
        assert not reads_the_whole_outbox(plan), f"{name}: {statement}\n{plan}"
    # Gathering finds the ungathered items by an index as well.
    for statement, plan in plans_of(lambda: reminders._gather_batches(now)):
        assert not reads_the_whole_outbox(plan), f"{statement}\n{plan}"
