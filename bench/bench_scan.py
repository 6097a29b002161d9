"""Deadline scan time at 10,000 / 100,000 / 1,000,000 referrals on PostgreSQL.

Usage: python bench/bench_scan.py [SIZES]   (default 10000,100000,1000000)

Referrals get deadlines spread from 30 days ago to a year ahead (one case per ten referrals),
states mostly awaiting a reply, like a network's multi-year history. Each size is timed twice:
the first scan writes the due reminders to the outbox, the second finds nothing new (the
steady state beat sees every few minutes). Nothing is mailed: the enqueue step is a no-op.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import timedelta

from _common import BENCH_DATABASE_URL, ensure_database, write_results

SEALED_PLACEHOLDER = "A" * 1400  # the size of one sealed answer set; never opened here
CHUNK = 20_000


def populate(size: int) -> None:
    """``size`` referrals on ``size // 10`` cases, written with COPY (``intake.demo``'s bulk
    insert: each value through its column type, Python defaults filled in). The rows bypass
    the unit of work, so the queue's stored columns of each case (``urgency_rank``,
    ``first_response_at``, ``next_due``, ``attention_at``, migration 0020) are computed here
    with ``queue_state``'s own functions, as the demo does."""
    import sqlalchemy as sa

    from intake import crypto
    from intake.db import utcnow
    from intake.demo import _insert
    from intake.extensions import db
    from intake.models import (
        AWAITING,
        Case,
        DirectoryEntry,
        OrgKey,
        Referral,
        Role,
        User,
        queue_state,
    )

    rng = random.Random(size)  # noqa: S311
    now = utcnow()
    public, _secret = crypto.generate_keypair()
    key = OrgKey(public_key=public, fingerprint=crypto.fingerprint(public))
    users = [User(email=f"cw{i}@bench.example", role=Role.CASEWORKER) for i in range(20)]
    db.session.add_all([key, *users, DirectoryEntry(id="bench-ngo", name="Bench NGO")])
    db.session.commit()
    user_ids = [user.id for user in users]
    awaiting = {state.value for state in AWAITING}
    states = ["sent"] * 6 + ["acknowledged"] * 2 + ["replied", "closed"]
    received = now - timedelta(days=400)
    threats, profiles, languages, triage = ["detention"], ["lawyer"], ["es"], []
    cases = max(1, size // 10)
    for start in range(0, cases, CHUNK // 10):
        numbers = range(start, min(cases, start + CHUNK // 10))
        planned: list[list[dict[str, object]]] = []
        case_rows = []
        for number in numbers:
            referrals = []
            for referral_number in range(number * 10, min(size, number * 10 + 10)):
                due = now + timedelta(minutes=rng.randint(-30 * 1440, 365 * 1440))
                referrals.append(
                    {
                        "entry_id": "bench-ngo",
                        "kind": "sp_urgent_appeal",
                        "state": rng.choice(states),
                        "owner_id": user_ids[referral_number % len(user_ids)],
                        "clock_started_at": due - timedelta(days=60),
                        "due_at": due,
                        "sent_at": due - timedelta(days=60),
                        "created_at": due - timedelta(days=61),
                        "updated_at": now,
                    }
                )
            planned.append(referrals)
            next_due = min(
                (r["due_at"] for r in referrals if r["state"] in awaiting),  # type: ignore[type-var]
                default=None,
            )
            first_response = queue_state.first_response_at("days", received)
            case_rows.append(
                {
                    "ref": f"RF-B{number:09d}",
                    "status": "referred",
                    "shared_status": "referred",
                    "urgency": "days",
                    "threats": threats,
                    "profiles": profiles,
                    "country": "MX",
                    "languages": languages,
                    "consent_given": True,
                    "locale": "en",
                    "sealed_by": "browser",
                    "org_key_id": key.id,
                    "sealed_answers": SEALED_PLACEHOLDER,
                    "receipt_lookup": f"{number:064x}",
                    "assignee_id": user_ids[number % len(user_ids)],
                    "triage": triage,
                    "received_at": received,
                    "updated_at": now,
                    "urgency_rank": queue_state.urgency_rank("days"),
                    "first_response_at": first_response,
                    "next_due": next_due,
                    "attention_at": queue_state.attention_at("referred", first_response, next_due),
                }
            )
        case_ids = _insert(Case.__table__, case_rows)
        _insert(
            Referral.__table__,
            [
                {**referral, "case_id": case_id}
                for case_id, referrals in zip(case_ids, planned, strict=True)
                for referral in referrals
            ],
        )
        db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def measure(size: int) -> dict[str, float | int]:
    from flask_migrate import upgrade

    from intake import create_app
    from intake.extensions import db
    from intake.services import reminders

    app = create_app(
        {
            "INTAKE_ENV": "testing",
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": BENCH_DATABASE_URL,
            "CELERY_BROKER_URL": "memory://",
            "DAILY_DIGEST": False,
        }
    )
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        started = time.perf_counter()
        populate(size)
        populate_seconds = time.perf_counter() - started

        def noop(_outbox_id: int) -> None:
            return None

        started = time.perf_counter()
        first = reminders.scan(enqueue=noop)
        first_seconds = time.perf_counter() - started
        db.session.remove()
        started = time.perf_counter()
        second = reminders.scan(enqueue=noop)
        second_seconds = time.perf_counter() - started
        db.session.remove()
        db.drop_all()
    return {
        "referrals": size,
        "populate_seconds": round(populate_seconds, 2),
        "candidates": first.candidates,
        "reminders_written": first.reminders_written,
        "first_scan_seconds": round(first_seconds, 3),
        "steady_scan_written": second.reminders_written,
        "steady_scan_seconds": round(second_seconds, 3),
    }


BARE_TABLE = "bench_bare_outbox"


def bare_statement(now: object) -> tuple[str, dict[str, object]]:
    """The honest minimum: ONE statement finding the same due reminders and writing them,
    exactly once, into a table of the same shape (the scan's own candidate query, without
    batches, digests, queueing or anything else the scan does)."""
    from intake.services import due_sql, reminders
    from intake.services.settings import org_zone

    # Module constants only are formatted in; values are bound.
    sql = (
        f"WITH {due_sql._CANDIDATES} "  # noqa: S608
        f"INSERT INTO {BARE_TABLE} (dedupe_key, recipient_id) "
        "SELECT 'reminder:' || referral_id || ':' || offset_key, recipient_id FROM due "
        "WHERE offset_key IS NOT NULL ON CONFLICT (dedupe_key) DO NOTHING"
    )
    offsets = reminders._offsets()
    return sql, {
        "now": now,
        "horizon": now + timedelta(days=max(offsets) + 1),  # type: ignore[operator]
        "zone": org_zone().key,
        "offsets": sorted(set(offsets)),
        "admin_id": reminders._first_admin(),
    }


def quick(size: int = 100_000) -> dict[str, object]:
    """Refuge's scan against the bare statement in the same run: first scan (empty outbox),
    steady scans, and scans 6-10 (psycopg prepares after five executions; the outbox was
    ANALYZEd while empty, the issue's stale-plan cliff). Records the three scan ratios."""
    import statistics

    label = f"{size // 1_000_000}m" if size >= 1_000_000 else f"{size // 1000}k"

    import sqlalchemy as sa
    from flask_migrate import upgrade
    from ratios import record

    from intake import create_app
    from intake.db import utcnow
    from intake.extensions import db
    from intake.services import reminders

    app = create_app(
        {
            "INTAKE_ENV": "testing",
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": BENCH_DATABASE_URL,
            "CELERY_BROKER_URL": "memory://",
            "DAILY_DIGEST": False,
        }
    )
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS alembic_version, {BARE_TABLE}")
        upgrade()
        populate(size)  # ends with ANALYZE: the outbox's statistics say "empty"
        db.session.execute(
            sa.text(
                f"CREATE UNLOGGED TABLE {BARE_TABLE} (id serial PRIMARY KEY, "
                "dedupe_key varchar(96) UNIQUE NOT NULL, recipient_id integer)"
            )
        )
        db.session.commit()
        now = utcnow()
        sql, parameters = bare_statement(now)
        bare_connection = db.engine.raw_connection()  # psycopg itself, no ORM

        def bare() -> float:
            cursor = bare_connection.cursor()
            started = time.perf_counter()
            cursor.execute(sa.text(sql).compile(dialect=db.engine.dialect).string, parameters)
            bare_connection.commit()
            return time.perf_counter() - started

        def refuge() -> tuple[float, int]:
            started = time.perf_counter()
            summary = reminders.scan(now, enqueue=lambda _id: None)
            seconds = time.perf_counter() - started
            db.session.remove()
            return seconds, summary.reminders_written

        bare_first = bare()
        first, written = refuge()
        refuge_rows = set(
            db.session.execute(
                sa.text(
                    "SELECT dedupe_key, recipient_id FROM reminder_outbox WHERE kind = 'reminder'"
                )
            ).all()
        )
        bare_rows = set(
            db.session.execute(
                sa.text(f"SELECT dedupe_key, recipient_id FROM {BARE_TABLE}")  # noqa: S608
            ).all()
        )
        db.session.remove()
        assert refuge_rows == bare_rows, "the bare statement found other reminders"
        bare_steady = statistics.median(bare() for _ in range(5))
        scans = [refuge() for _ in range(10)]
        assert all(again == 0 for _seconds, again in scans)
        steady = statistics.median(seconds for seconds, _ in scans[:3])
        after_stale = statistics.median(seconds for seconds, _ in scans[5:])
        bare_connection.close()
        with db.engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE {BARE_TABLE}")
        db.session.remove()
        db.drop_all()
    sizes = {"referrals": size, "reminders": written, "database": "postgresql"}
    note = "2-core machine shared with other work: absolute times are noisy, ratios less so"
    record(
        f"scan_first_{label}",
        first / bare_first,
        refuge_s=first,
        bare_s=bare_first,
        **sizes,
        note=note,
    )
    record(
        f"scan_steady_{label}",
        steady / bare_steady,
        refuge_s=steady,
        bare_s=bare_steady,
        **sizes,
        note=note,
    )
    record(
        f"scan_after_stale_plan_{label}",
        after_stale / bare_steady,
        refuge_s=after_stale,
        bare_s=bare_steady,
        scans=[round(seconds, 4) for seconds, _ in scans],
        **sizes,
        note=note,
    )
    return {"first": first, "bare_first": bare_first, "steady": steady, "bare_steady": bare_steady}


def main() -> int:
    if sys.argv[1:2] == ["quick"]:
        ensure_database(BENCH_DATABASE_URL)
        figures = quick(int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
        write_results("scan_quick", {"database": "postgresql", "figures": figures})
        return 0
    sizes = [
        int(size)
        for size in (sys.argv[1] if len(sys.argv) > 1 else "10000,100000,1000000").split(",")
    ]
    ensure_database(BENCH_DATABASE_URL)
    rows = []
    print(f"{'referrals':>10} {'in window':>10} {'written':>8} {'first scan':>11} {'steady':>8}")
    for size in sizes:
        row = measure(size)
        rows.append(row)
        print(
            f"{row['referrals']:>10,} {row['candidates']:>10,} {row['reminders_written']:>8,} "
            f"{row['first_scan_seconds']:>10.3f}s {row['steady_scan_seconds']:>7.3f}s"
        )
    write_results("scan", {"database": "postgresql", "sizes": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
