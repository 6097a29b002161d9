"""The reminder scan as set-based SQL on PostgreSQL (issue 14).

Two statements do the work that the Python path in :mod:`intake.services.reminders` does row
by row: one ``INSERT … SELECT … ON CONFLICT (dedupe_key) DO NOTHING`` writes every due
reminder (the slot arithmetic of :func:`intake.services.deadlines.latest_slot`, in the
organisation's time zone, in SQL) together with one batch row per recipient of the new ones,
and one gathers any pending item left outside a batch (released by a send) under a new batch
row. Neither carries more than a handful of parameters, so no cached generic plan can
turn into ``Seq Scan … Filter: dedupe_key = ANY($1 … $5000)`` (the cliff the issue measured),
and nothing of the candidates travels to Python: a scan's memory does not grow with them.

Wall-clock arithmetic follows zoneinfo's ``fold=0``: a local time that occurs twice (the hour
repeated when clocks go back) is the *first* instant, where PostgreSQL's ``AT TIME ZONE``
picks the second; :func:`_first_instant` corrects that. A local time in a gap (clocks go
forward) is read with the offset before the transition by both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa

from intake.extensions import db
from intake.models import AWAITING, OutboxStatus
from intake.services.casework import CASE_HOLDER_ROLES
from intake.services.deadlines import OVERDUE_DAILY, OVERDUE_EVERY_DAYS

_STAFF = ", ".join(f"'{role.value}'" for role in CASE_HOLDER_ROLES)
_AWAITING = ", ".join(f"'{state.value}'" for state in AWAITING)


def _first_instant(local: str) -> str:
    """SQL for the earliest UTC instant whose wall time in ``:zone`` is ``local`` (a
    ``timestamp without time zone`` expression), like ``datetime(…, fold=0, tzinfo=zone)``."""
    later = f"(({local}) AT TIME ZONE :zone)"
    # The same wall time a day earlier, plus 24 hours: the offset in force before a fall-back.
    earlier = f"((({local}) - interval '1 day') AT TIME ZONE :zone + interval '1 day')"
    return (
        f"CASE WHEN {earlier} < {later} AND ({earlier} AT TIME ZONE :zone) = ({local}) "
        f"THEN {earlier} ELSE {later} END"
    )


# Each awaiting referral in the window, its recipient (owner, else the case's assignee, else the
# first admin: reminders.choose_recipient) and its newest fired slot (deadlines.latest_slot).
# Only constants of this module are formatted in; every value comes as a bound parameter.
_CANDIDATES = f"""
candidate AS MATERIALIZED (
    SELECT r.id AS referral_id, r.due_at, r.clock_generation,
           coalesce(r.clock_started_at, r.created_at) AS clock_start,
           coalesce(owner.id, assignee.id, CAST(:admin_id AS integer)) AS recipient_id
    FROM referrals AS r
    JOIN cases AS c ON c.id = r.case_id
    LEFT JOIN users AS owner ON owner.id = r.owner_id
        AND owner.is_active_account AND owner.role IN ({_STAFF})
    LEFT JOIN users AS assignee ON assignee.id = c.assignee_id
        AND assignee.is_active_account AND assignee.role IN ({_STAFF})
    WHERE r.state IN ({_AWAITING}) AND r.due_at IS NOT NULL AND r.due_at <= :horizon
),
due AS (
    SELECT candidate.referral_id, candidate.recipient_id, candidate.due_at,
        candidate.clock_generation,
        CASE
            WHEN overdue.days >= 1 THEN 'overdue-' || overdue.days
            WHEN fired.days IS NOT NULL AND fired.fires >= candidate.clock_start
                THEN 'd' || fired.days
        END AS offset_key
    FROM candidate
    JOIN users AS recipient ON recipient.id = candidate.recipient_id
    CROSS JOIN LATERAL (
        SELECT whole - whole % (CASE WHEN recipient.overdue_reminders_daily
                                     THEN {OVERDUE_DAILY} ELSE {OVERDUE_EVERY_DAYS} END) AS days
        FROM (SELECT CASE WHEN CAST(:now AS timestamptz) > candidate.due_at
                          THEN floor(extract(epoch FROM CAST(:now AS timestamptz)
                                             - candidate.due_at) / 86400)::integer
                          ELSE 0 END AS whole) AS elapsed
    ) AS overdue
    LEFT JOIN LATERAL (
        SELECT offset_days.days, wall.fires
        FROM unnest(CAST(:offsets AS integer[])) AS offset_days(days)
        CROSS JOIN LATERAL (
            SELECT CASE WHEN offset_days.days > 0
                THEN {
    _first_instant(
        "(candidate.due_at AT TIME ZONE :zone) - make_interval(days => offset_days.days)"
    )
}
                ELSE {_first_instant("date_trunc('day', candidate.due_at AT TIME ZONE :zone)")}
            END AS fires
        ) AS wall
        WHERE wall.fires <= CAST(:now AS timestamptz)
        ORDER BY offset_days.days
        LIMIT 1
    ) AS fired ON true
)
"""  # noqa: S608

# Each new reminder and, in the same statement, one batch per recipient of the new ones: the
# batches' ids are drawn from the table's sequence first, so each item is written already in
# its batch (no
# UPDATE of just-written rows, which would rewrite them and re-run their foreign-key checks).
# A key another scan wrote meanwhile is skipped by ON CONFLICT, and a batch counts only the
# items really written (RETURNING): a recipient whose items all went to another scan gets no
# batch. The batch rows land in the same statement, so the items' batch_id check finds them.
WRITE_DUE_REMINDERS = sa.text(
    f"""
WITH {_CANDIDATES},
new_item AS MATERIALIZED (
    SELECT fresh.*
    FROM (
        -- A UN step that moves the deadline starts a new clock generation: its reminders are
        -- new (generation 0 keeps the keys older rows have), as in reminders._due_reminders.
        SELECT 'reminder:' || referral_id || ':'
                   || CASE WHEN clock_generation > 0 THEN 'g' || clock_generation || ':'
                           ELSE '' END
                   || offset_key AS dedupe_key,
               referral_id, recipient_id, offset_key, due_at
        FROM due
        WHERE offset_key IS NOT NULL
    ) AS fresh
    WHERE NOT EXISTS (
        SELECT 1 FROM reminder_outbox AS old WHERE old.dedupe_key = fresh.dedupe_key
    )
),
recipient_batch AS MATERIALIZED (
    SELECT recipient_id, nextval(pg_get_serial_sequence('reminder_outbox', 'id')) AS batch_id
    FROM (SELECT DISTINCT recipient_id FROM new_item) AS recipient
),
written AS (
    INSERT INTO reminder_outbox (dedupe_key, kind, referral_id, recipient_id, offset_key,
                                 due_at, counts, status, attempts, unacknowledged, created_at,
                                 batch_id)
    SELECT new_item.dedupe_key, 'reminder', new_item.referral_id,
           new_item.recipient_id, new_item.offset_key, new_item.due_at, CAST('{{}}' AS json),
           :pending, 0, 0, CAST(:now AS timestamptz), recipient_batch.batch_id
    FROM new_item JOIN recipient_batch ON recipient_batch.recipient_id = new_item.recipient_id
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id, recipient_id, due_at, batch_id
),
batch AS (
    INSERT INTO reminder_outbox (id, dedupe_key, kind, referral_id, recipient_id, offset_key,
                                 due_at, counts, status, attempts, unacknowledged, created_at)
    SELECT batch_id, 'batch:' || recipient_id || ':' || min(id), 'batch', NULL, recipient_id,
           :day, min(due_at), json_build_object('items', count(*)), :pending, 0, 0,
           CAST(:now AS timestamptz)
    FROM written
    GROUP BY recipient_id, batch_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM candidate) AS candidates, (SELECT count(*) FROM written) AS written,
       (SELECT count(*) FROM batch) AS batches
"""  # noqa: S608
)

# Each recipient's pending, ungathered items under one new batch row, locked items skipped so
# two scans at once never gather an item twice (reminders._gather_batches, in one statement).
# New reminders arrive batched (WRITE_DUE_REMINDERS); this gathers the items a send released
# to another recipient, found by the partial index on ungathered items.
GATHER_BATCHES = sa.text(
    """
WITH item AS MATERIALIZED (
    SELECT id, recipient_id, due_at FROM reminder_outbox
    WHERE kind = 'reminder' AND status = :pending AND batch_id IS NULL
    FOR UPDATE SKIP LOCKED
),
batch AS (
    INSERT INTO reminder_outbox (dedupe_key, kind, referral_id, recipient_id, offset_key, due_at,
                                 counts, status, attempts, unacknowledged, created_at)
    SELECT 'batch:' || recipient_id || ':' || min(id), 'batch', NULL, recipient_id, :day,
           min(due_at), json_build_object('items', count(*)), :pending, 0, 0,
           CAST(:now AS timestamptz)
    FROM item
    GROUP BY recipient_id
    RETURNING id, recipient_id
),
gathered AS (
    UPDATE reminder_outbox SET batch_id = batch.id
    FROM item JOIN batch ON batch.recipient_id = item.recipient_id
    WHERE reminder_outbox.id = item.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM batch) AS batches, (SELECT count(*) FROM gathered) AS items
"""
)


class Written(NamedTuple):
    candidates: int  # awaiting referrals in the window
    reminders: int  # new reminder items
    batches: int  # new batches, one per recipient of new items


def write_due_reminders(
    now: datetime, zone_name: str, offsets: Sequence[int], admin_id: int | None, day: str
) -> Written:
    """Write every due reminder not written before, each recipient's new ones under one new
    batch row labelled ``day``."""
    horizon = now + timedelta(days=max(offsets, default=0) + 1)
    row = db.session.execute(
        WRITE_DUE_REMINDERS,
        {
            "now": now,
            "horizon": horizon,
            "zone": zone_name,
            "offsets": sorted(set(offsets)),
            "admin_id": admin_id,
            "day": day,
            "pending": OutboxStatus.PENDING.value,
        },
    ).one()
    return Written(int(row.candidates), int(row.written), int(row.batches))


def gather_batches(now: datetime, day: str) -> int:
    """Gather pending items into one batch per recipient; how many batches were written."""
    row = db.session.execute(
        GATHER_BATCHES, {"now": now, "day": day, "pending": OutboxStatus.PENDING.value}
    ).one()
    return int(row.batches)
