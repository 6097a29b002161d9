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
    import sqlalchemy as sa

    from intake import crypto
    from intake.db import utcnow
    from intake.extensions import db
    from intake.models import Case, DirectoryEntry, OrgKey, Referral, Role, User

    rng = random.Random(size)  # noqa: S311
    now = utcnow()
    public, _secret = crypto.generate_keypair()
    key = OrgKey(public_key=public, fingerprint=crypto.fingerprint(public))
    users = [User(email=f"cw{i}@bench.example", role=Role.CASEWORKER) for i in range(20)]
    db.session.add_all([key, *users, DirectoryEntry(id="bench-ngo", name="Bench NGO")])
    db.session.commit()
    user_ids = [user.id for user in users]
    cases = max(1, size // 10)
    connection = db.session.connection()
    for start in range(0, cases, CHUNK):
        connection.execute(
            sa.insert(Case.__table__),
            [
                {
                    "ref": f"RF-B{number:09d}",
                    "status": "referred",
                    "shared_status": "referred",
                    "urgency": "days",
                    "threats": ["detention"],
                    "profiles": ["lawyer"],
                    "country": "MX",
                    "languages": ["es"],
                    "consent_given": True,
                    "locale": "en",
                    "sealed_by": "browser",
                    "org_key_id": key.id,
                    "sealed_answers": SEALED_PLACEHOLDER,
                    "receipt_lookup": f"{number:064x}",
                    "assignee_id": user_ids[number % len(user_ids)],
                    "triage": [],
                    "received_at": now - timedelta(days=400),
                    "updated_at": now,
                }
                for number in range(start, min(cases, start + CHUNK))
            ],
        )
    first_case = db.session.scalar(sa.select(sa.func.min(Case.id)))
    states = ["sent"] * 6 + ["acknowledged"] * 2 + ["replied", "closed"]
    for start in range(0, size, CHUNK):
        rows = []
        for number in range(start, min(size, start + CHUNK)):
            due = now + timedelta(minutes=rng.randint(-30 * 1440, 365 * 1440))
            rows.append(
                {
                    "case_id": first_case + number // 10,
                    "entry_id": "bench-ngo",
                    "kind": "sp_urgent_appeal",
                    "state": rng.choice(states),
                    "owner_id": user_ids[number % len(user_ids)],
                    "clock_started_at": due - timedelta(days=60),
                    "due_at": due,
                    "sent_at": due - timedelta(days=60),
                    "created_at": due - timedelta(days=61),
                    "updated_at": now,
                }
            )
        connection.execute(sa.insert(Referral.__table__), rows)
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


def main() -> int:
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
