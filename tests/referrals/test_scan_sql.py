"""The set-based scan on PostgreSQL (issue 14) finds exactly the reminders the Python slot
arithmetic finds, around daylight-saving changes too, and its statements carry no large
parameter lists whose cached generic plan could turn into a sequential filter."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import Case, Referral, ReminderOutbox, Role
from intake.services import due_sql, reminders
from tests.builders import make_case, make_entry, make_org_key, make_user

pytestmark = pytest.mark.postgres

# Each zone with a night its clocks go back (a wall time occurring twice) in 2026.
ZONES = {
    "America/New_York": datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
    "Europe/Berlin": datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    "Australia/Lord_Howe": datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # a half-hour change
}


@pytest.fixture
def pg(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app("postgres", DAILY_DIGEST=False)
    with app.app_context():
        yield app


def _referrals(count: int, around: datetime, rng: random.Random) -> None:
    """``count`` awaiting referrals due around ``around`` (some of them a week or two later,
    so that their "7/14 days before" falls on the night the clocks change), owned by a mix of
    caseworkers: one asks for daily overdue reminders, one has left (the assignee stands in)."""
    org = make_org_key()
    make_entry("test-ngo")
    daily, gone = make_user(), make_user()
    daily.overdue_reminders_daily = True
    gone.is_active_account = False
    make_user(Role.ADMIN)
    owners = [make_user().id, daily.id, gone.id]
    case = make_case(org, {"what_happened": "x"})
    case.assignee_id = owners[0]
    db.session.commit()
    rows = []
    for number in range(count):
        shift = rng.choice([0, 0, 1, 3, 7, 14]) * 86400 + rng.randint(-3 * 3600, 3 * 3600)
        due = around + timedelta(seconds=shift + rng.randint(-20, 20) * 86400 * (number % 3 == 0))
        rows.append(
            {
                "case_id": case.id,
                "entry_id": "test-ngo",
                "kind": "sp_urgent_appeal",
                "state": rng.choice(["sent", "acknowledged", "draft", "replied"]),
                "owner_id": owners[number % 3],
                "clock_started_at": due - timedelta(days=rng.choice([60, 2, 10])),
                "due_at": due,
                "created_at": due - timedelta(days=61),
                "updated_at": due,
            }
        )
    db.session.execute(sa.insert(Referral.__table__), rows)
    db.session.commit()


def _python_slots(now: datetime) -> set[tuple[str, int]]:
    return {
        (row["dedupe_key"], row["recipient_id"])
        for row in reminders._due_reminders(now, reminders.ScanSummary())
    }


def _sql_slots(now: datetime, zone: str) -> set[tuple[str, int]]:
    """What the SQL statement writes at ``now`` (rolled back afterwards)."""
    due_sql.write_due_reminders(now, zone, reminders._offsets(), reminders._first_admin(), "day")
    found: set[tuple[str, int]] = set(
        db.session.execute(
            sa.select(ReminderOutbox.dedupe_key, ReminderOutbox.recipient_id).where(
                ReminderOutbox.kind == "reminder"
            )
        )
    )
    db.session.rollback()
    return found


@pytest.mark.parametrize("zone", list(ZONES))
def test_the_sql_scan_finds_the_same_slots_as_the_python_arithmetic(pg: Flask, zone: str) -> None:
    pg.config["ORG_TIMEZONE"] = zone
    rng = random.Random(zone)
    around = ZONES[zone]
    _referrals(240, around, rng)
    nows = [around + timedelta(minutes=15 * step) for step in range(-12, 13)]
    nows += [around + timedelta(days=days, minutes=rng.randint(0, 1440)) for days in range(-15, 25)]
    compared = 0
    for now in nows:
        expected = _python_slots(now)
        assert _sql_slots(now, zone) == expected, now
        compared += len(expected)
    assert compared > 1000  # the comparison really covered reminders


def test_stale_statistics_and_ten_scans_keep_results_and_use_no_large_parameter_lists(
    pg: Flask,
) -> None:
    """The issue's cliff: an outbox analysed while empty, then many scans of a full one. Every
    statement of a scan carries a handful of parameters (the old scan sent 5,000 keys), so no
    generic plan filters thousands of them, and ten scans give the same outbox."""
    pg.config["ORG_TIMEZONE"] = "Europe/Berlin"
    _referrals(1200, datetime(2026, 10, 25, 1, 0, tzinfo=UTC), random.Random(7))
    db.session.execute(sa.text("ANALYZE reminder_outbox"))
    db.session.commit()
    now = datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    widest: list[int] = []

    def count_parameters(_conn: Any, _cursor: Any, _sql: str, parameters: Any, *_: Any) -> None:
        if isinstance(parameters, dict):
            size = sum(len(v) if isinstance(v, list | tuple) else 1 for v in parameters.values())
        else:
            size = len(parameters or ())
        widest.append(size)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count_parameters)
    try:
        first = reminders.scan(now, enqueue=lambda _id: None)
        outboxes = []
        for minute in range(10):
            reminders.scan(now + timedelta(minutes=minute), enqueue=lambda _id: None)
            outboxes.append(
                sorted(db.session.execute(sa.select(ReminderOutbox.dedupe_key)).scalars())
            )
    finally:
        sa.event.remove(engine, "before_cursor_execute", count_parameters)
    assert first.reminders_written > 300
    assert all(outbox == outboxes[0] for outbox in outboxes)
    assert len(outboxes[0]) == first.reminders_written + first.batches_written
    assert max(widest) < 20, sorted(widest)[-5:]
    # No prepared statement of the scan carries a long parameter list either.
    prepared = db.session.execute(
        sa.text("SELECT coalesce(max(cardinality(parameter_types)), 0) FROM pg_prepared_statements")
    ).scalar()
    assert (prepared or 0) < 20
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def _batches() -> dict[int, tuple[str, int, int, list[int]]]:
    """Each batch: (dedupe_key, recipient_id, counted items, ids of its items)."""
    batches: dict[int, tuple[str, int, int, list[int]]] = {
        row.id: (row.dedupe_key, row.recipient_id, row.counts["items"], [])
        for row in db.session.scalars(
            sa.select(ReminderOutbox).where(ReminderOutbox.kind == "batch")
        )
    }
    for item in db.session.scalars(
        sa.select(ReminderOutbox).where(ReminderOutbox.kind == "reminder")
    ):
        assert item.batch_id in batches, item.dedupe_key
        assert batches[item.batch_id][1] == item.recipient_id
        batches[item.batch_id][3].append(item.id)
    return batches


def test_the_sql_scan_writes_new_reminders_already_in_one_batch_per_recipient(pg: Flask) -> None:
    """The set-based scan writes each recipient's new items under one batch in the same
    statement (no gathering UPDATE): the batch counts exactly its items and is named after the
    first; a later scan batches only its own new items, and an item a send released to another
    recipient is gathered by the next scan."""
    pg.config["ORG_TIMEZONE"] = "Europe/Berlin"
    _referrals(600, datetime(2026, 10, 25, 1, 0, tzinfo=UTC), random.Random(11))
    now = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    first = reminders.scan(now, enqueue=lambda _id: None)
    batches = _batches()
    assert first.reminders_written > 100
    assert first.batches_written == len(batches) == len({b[1] for b in batches.values()})
    for key, recipient_id, counted, items in batches.values():
        assert counted == len(items)
        assert key == f"batch:{recipient_id}:{min(items)}"
    assert sum(len(b[3]) for b in batches.values()) == first.reminders_written

    again = reminders.scan(now + timedelta(minutes=5), enqueue=lambda _id: None)
    assert (again.reminders_written, again.batches_written) == (0, 0)

    later = reminders.scan(now + timedelta(days=3), enqueue=lambda _id: None)
    assert later.reminders_written > 0
    after = _batches()
    new = {batch_id: batch for batch_id, batch in after.items() if batch_id not in batches}
    assert later.batches_written == len(new)
    assert sum(len(b[3]) for b in new.values()) == later.reminders_written
    assert all(after[batch_id][3] == batch[3] for batch_id, batch in batches.items())

    # A send hands one item to another recipient (reminders._settle_items): gathered next scan.
    item = db.session.scalars(
        sa.select(ReminderOutbox).where(ReminderOutbox.kind == "reminder").limit(1)
    ).one()
    stand_in = next(b[1] for b in after.values() if b[1] != item.recipient_id)
    item.batch_id, item.recipient_id = None, stand_in
    db.session.commit()
    regathered = reminders.scan(now + timedelta(days=3, minutes=5), enqueue=lambda _id: None)
    assert (regathered.reminders_written, regathered.batches_written) == (0, 1)
    batch_id = db.session.get_one(ReminderOutbox, item.id).batch_id
    assert batch_id is not None
    assert _batches()[batch_id][3] == [item.id]
