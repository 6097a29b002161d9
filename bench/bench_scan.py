"""Deadline scan time at 10,000 / 100,000 / 1,000,000 referrals on PostgreSQL.

Usage: python bench/bench_scan.py [SIZES]   (default 10000,100000,1000000)
       python bench/bench_scan.py quick [SIZE]   issue 14's scan ratios (default 100,000)
       python bench/bench_scan.py 1m             opt-in, minutes: a real worker's memory across
                                                 a 1M scan, and the 1M ratios (also with
                                                 BENCH_1M=1 before quick's own run)

Referrals get deadlines spread from 30 days ago to a year ahead (one case per ten referrals),
states mostly awaiting a reply, like a network's multi-year history. Each size is timed twice:
the first scan writes the due reminders to the outbox, the second finds nothing new (the
steady state beat sees every few minutes). Nothing is mailed: the enqueue step is a no-op.

The ratios compare the scan with one bare SQL statement writing the same rows (items and one
batch per recipient, ``bare_statement``) into a table without foreign keys, as durably as the
outbox (a reminder written must survive a crash: the same row written is a logged row). The
same statement into an UNLOGGED table is timed too and kept beside it in the detail
(``bare_unlogged_s``): it shows what the write-ahead log costs. The outbox keeps three
foreign keys per row (referral, recipient, batch): on this machine their per-row checks are
most of what the first scan costs beyond the bare statement (measured by dropping them inside
a rolled-back transaction: about 0.3 s each at 100k, under load). They are part of the
product, so they stay in the measured scan and out of the bare.
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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
    # One list object per column, shared by every row: COPY dumps each JSON value once.
    threats, profiles, languages = ["detention"], ["lawyer"], ["es"]
    triage: list[dict[str, object]] = []
    cases = max(1, size // 10)
    for start in range(0, cases, CHUNK // 10):
        numbers = range(start, min(cases, start + CHUNK // 10))
        planned: list[list[dict[str, object]]] = []
        case_rows = []
        for number in numbers:
            referrals = []
            awaited: list[datetime] = []
            for referral_number in range(number * 10, min(size, number * 10 + 10)):
                due = now + timedelta(minutes=rng.randint(-30 * 1440, 365 * 1440))
                state = rng.choice(states)
                if state in awaiting:
                    awaited.append(due)
                referrals.append(
                    {
                        "entry_id": "bench-ngo",
                        "kind": "sp_urgent_appeal",
                        "state": state,
                        "owner_id": user_ids[referral_number % len(user_ids)],
                        "clock_started_at": due - timedelta(days=60),
                        "due_at": due,
                        "sent_at": due - timedelta(days=60),
                        "created_at": due - timedelta(days=61),
                        "updated_at": now,
                    }
                )
            planned.append(referrals)
            next_due = min(awaited, default=None)
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
    """The honest minimum: ONE statement finding the same due reminders and writing the same
    rows, exactly once, into a bare table: each new reminder item (ON CONFLICT DO NOTHING) and,
    from the items it really wrote (RETURNING), one batch row per recipient naming its first
    item and counting its items — the rows a scan must write so that each recipient gets one
    e-mail (issue 12). The scan's own candidate query; no digests, queueing, ORM or anything
    else the scan does. The bare table has no foreign keys and only the two indexes the
    statement needs, so the baseline is at least as cheap as any real outbox."""
    from intake.services import due_sql, reminders
    from intake.services.settings import org_zone

    # Module constants only are formatted in; values are bound.
    sql = (
        f"WITH {due_sql._CANDIDATES}, "  # noqa: S608
        f"written AS (INSERT INTO {BARE_TABLE} (dedupe_key, kind, recipient_id) "
        "SELECT 'reminder:' || referral_id || ':' || CASE WHEN clock_generation > 0 "
        "THEN 'g' || clock_generation || ':' ELSE '' END || offset_key, 'reminder', "
        "recipient_id FROM due WHERE offset_key IS NOT NULL "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, recipient_id) "
        f"INSERT INTO {BARE_TABLE} (dedupe_key, kind, recipient_id, items) "
        "SELECT 'batch:' || recipient_id || ':' || min(id), 'batch', recipient_id, count(*) "
        "FROM written GROUP BY recipient_id"
    )
    offsets = reminders._offsets()
    return sql, {
        "now": now,
        "horizon": now + timedelta(days=max(offsets) + 1),  # type: ignore[operator]
        "zone": org_zone().key,
        "offsets": sorted(set(offsets)),
        "admin_id": reminders._first_admin(),
    }


def _bench_app(broker_url: str = "memory://") -> Any:
    from intake import create_app

    return create_app(
        {
            "INTAKE_ENV": "testing",
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": BENCH_DATABASE_URL,
            "CELERY_BROKER_URL": broker_url,
            "DAILY_DIGEST": False,
        }
    )


def _fresh_schema() -> None:
    from flask_migrate import upgrade

    from intake.extensions import db

    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS alembic_version, {BARE_TABLE}")
    upgrade()


def quick(size: int = 100_000) -> dict[str, object]:
    """Refuge's scan against the bare statement in the same run at ``size`` referrals."""
    from intake.extensions import db

    app = _bench_app()
    with app.app_context():
        _fresh_schema()
        populate(size)  # ends with ANALYZE: the outbox's statistics say "empty"
        figures = compare(size)
        db.session.remove()
        db.drop_all()
    return figures


def compare(size: int) -> dict[str, object]:
    """Refuge's scan against the bare statement in the same run: first scan (empty outbox),
    steady scans, and scans 6-10 (psycopg prepares after five executions; the outbox was
    ANALYZEd while empty, the issue's stale-plan cliff). Records the three scan ratios.
    Expects ``size`` referrals in place and an empty outbox analysed while empty."""
    import statistics

    import sqlalchemy as sa
    from ratios import record

    from intake.db import utcnow
    from intake.extensions import db
    from intake.services import reminders

    label = f"{size // 1_000_000}m" if size >= 1_000_000 else f"{size // 1000}k"

    def create_bare_table(logged: bool = True) -> None:
        db.session.execute(sa.text(f"DROP TABLE IF EXISTS {BARE_TABLE}"))
        db.session.execute(
            sa.text(
                f"CREATE {'' if logged else 'UNLOGGED '}TABLE {BARE_TABLE} (id serial PRIMARY "
                "KEY, dedupe_key varchar(96) UNIQUE NOT NULL, kind varchar(16) NOT NULL, "
                "recipient_id integer, items integer)"
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

    def bare_first_write(logged: bool) -> float:
        """The bare statement into an empty table: the median of three fresh tables."""
        times = []
        for _ in range(3):
            create_bare_table(logged)
            times.append(bare())
        return statistics.median(times)

    bare_unlogged_first = bare_first_write(logged=False)
    bare_unlogged_steady = statistics.median(bare() for _ in range(5))

    def refuge() -> tuple[float, reminders.ScanSummary]:
        started = time.perf_counter()
        summary = reminders.scan(now, enqueue=lambda _id: None)
        seconds = time.perf_counter() - started
        db.session.remove()
        return seconds, summary

    bare_first = bare_first_write(logged=True)
    first, summary = refuge()
    written, batches = summary.reminders_written, summary.batches_written
    # The same items, and per recipient one batch of the same number of items.
    refuge_rows = set(
        db.session.execute(
            sa.text(
                "SELECT kind, recipient_id, CASE kind WHEN 'batch' THEN counts ->> 'items' "
                "ELSE dedupe_key END FROM reminder_outbox"
            )
        ).all()
    )
    bare_rows = set(
        db.session.execute(
            sa.text(
                "SELECT kind, recipient_id, CASE kind WHEN 'batch' THEN CAST(items AS text) "  # noqa: S608
                f"ELSE dedupe_key END FROM {BARE_TABLE}"
            )
        ).all()
    )
    db.session.remove()
    assert refuge_rows == bare_rows, "the bare statement found other reminders"
    bare_steady = statistics.median(bare() for _ in range(5))
    scans = [refuge() for _ in range(10)]
    assert all(again.reminders_written == 0 for _seconds, again in scans)
    steady = statistics.median(seconds for seconds, _ in scans[:3])
    after_stale = statistics.median(seconds for seconds, _ in scans[5:])
    bare_connection.close()
    with db.engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {BARE_TABLE}")
    sizes = {
        "referrals": size,
        "reminders": written,
        "batches": batches,
        "database": "postgresql",
    }
    note = "2-core machine shared with other work: absolute times are noisy, ratios less so"
    record(
        f"scan_first_{label}",
        first / bare_first,
        refuge_s=first,
        bare_s=bare_first,
        bare_unlogged_s=bare_unlogged_first,
        ratio_vs_unlogged=round(first / bare_unlogged_first, 3),
        **sizes,
        note=note,
    )
    record(
        f"scan_steady_{label}",
        steady / bare_steady,
        refuge_s=steady,
        bare_s=bare_steady,
        bare_unlogged_s=bare_unlogged_steady,
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


def _rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _pool_child(pid: int, timeout: float = 60) -> int:
    """The one pool process (``--concurrency 1``) of the worker whose main process is ``pid``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.2)
    raise RuntimeError("the worker started no pool process")


def _wait_in_log(log: Path, text: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text(errors="replace").count(text) >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"not seen {count} x {text!r} in {log}:\n{log.read_text()[-3000:]}")


def worker_memory(size: int = 1_000_000) -> dict[str, object]:
    """A real ``celery -A worker.app worker --concurrency 1`` scans ``size`` referrals: its pool
    process's RSS when idle, then after the first scan (that writes the due reminders) and
    after a steady scan. Recorded as ``worker_rss_after_1m_scan_mb`` (after the first scan
    minus idle), then the scan ratios at this size (``compare``).

    "Idle" is the pool process after it has run one scan of the empty outbox on the migrated,
    still empty database: every module and statement a scan needs is loaded, so what the 1M
    scan adds afterwards is what it keeps of the data. The worker consumes only the queue the
    scan task is sent to (as beat sends it, by name with no arguments): the send tasks the scan
    queues wait on the default queue and are purged at the end, so nothing is mailed and no
    send's memory is counted."""
    import shutil
    import signal
    import subprocess
    import tempfile

    import redis
    import sqlalchemy as sa
    from _common import BENCH_REDIS_URL, ROOT
    from ratios import record

    from intake.extensions import db

    queue = "bench-scan"
    app = _bench_app(BENCH_REDIS_URL)
    workdir = Path(tempfile.mkdtemp(prefix="bench-scan-worker-"))
    log = workdir / "worker.log"
    env = {
        **os.environ,
        "INTAKE_ENV": "testing",
        "SECRET_KEY": "bench",
        "INTAKE_INSTANCE_PATH": str(workdir / "instance"),
        "DATABASE_URL": BENCH_DATABASE_URL,
        "REDIS_URL": BENCH_REDIS_URL,
        "DAILY_DIGEST": "0",
    }
    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()  # this benchmark's own Redis database
    with app.app_context():
        _fresh_schema()
        celery = app.extensions["celery"]
        with log.open("wb") as output:
            worker = subprocess.Popen(  # noqa: S603
                [
                    sys.executable, "-m", "celery", "-A", "worker.app", "worker",
                    "--loglevel", "INFO", "--concurrency", "1", "--without-mingle",
                    "--without-gossip", "-Q", queue, "-n", "bench-scan@%h",
                ],
                cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            _wait_in_log(log, "ready.", 1, timeout=120)
            child = _pool_child(worker.pid)
            started_mb = _rss_mb(child)
            done = "Task deadlines.scan["
            celery.send_task("deadlines.scan", queue=queue)  # the warm-up: an empty outbox
            _wait_in_log(log, "succeeded", 1, timeout=120)
            time.sleep(2)
            idle_mb = _rss_mb(child)
            started = time.perf_counter()
            populate(size)
            populate_seconds = time.perf_counter() - started
            peaks = []
            for scan_number in (2, 3):  # the first scan of the full tables, then a steady one
                peak = _rss_mb(child)
                started = time.perf_counter()
                celery.send_task("deadlines.scan", queue=queue)
                deadline = time.monotonic() + 1800
                while log.read_text(errors="replace").count(" succeeded in ") < scan_number:
                    if worker.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(log.read_text()[-3000:])
                    peak = max(peak, _rss_mb(child))
                    time.sleep(0.05)
                peaks.append((time.perf_counter() - started, peak, _rss_mb(child)))
            assert _pool_child(worker.pid) == child, "the pool process was replaced"
            assert log.read_text().count(done) >= 3
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        written = db.session.scalar(
            sa.text("SELECT count(*) FROM reminder_outbox WHERE kind = 'reminder'")
        )
        (first_s, first_peak, first_after), (steady_s, steady_peak, steady_after) = peaks
        detail = {
            "referrals": size,
            "reminders": written,
            "started_mb": round(started_mb, 1),
            "idle_mb": round(idle_mb, 1),
            "after_first_scan_mb": round(first_after, 1),
            "peak_first_scan_mb": round(first_peak, 1),
            "after_steady_scan_mb": round(steady_after, 1),
            "peak_steady_scan_mb": round(steady_peak, 1),
            "first_scan_in_worker_s": round(first_s, 2),
            "steady_scan_in_worker_s": round(steady_s, 2),
            "populate_s": round(populate_seconds, 1),
            "database": "postgresql",
            "note": "RSS of the worker's one pool process (prefork, --concurrency 1), /proc",
        }
        label = f"{size // 1_000_000}m" if size >= 1_000_000 else f"{size // 1000}k"
        record(f"worker_rss_after_{label}_scan_mb", first_after - idle_mb, **detail)
        redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
        shutil.rmtree(workdir)  # kept, with the worker's log, only when something failed
        # The ratios at this size, on the same tables: the outbox emptied and analysed so.
        db.session.execute(sa.text("TRUNCATE reminder_outbox"))
        db.session.commit()
        db.session.execute(sa.text("ANALYZE reminder_outbox"))
        db.session.commit()
        figures = compare(size)
        db.session.remove()
        db.drop_all()
    return {**detail, **figures}


def main() -> int:
    if sys.argv[1:2] == ["1m"] or (sys.argv[1:2] == ["quick"] and os.environ.get("BENCH_1M")):
        # Opt-in (minutes): 1M referrals, a real worker's memory, and the 1M scan ratios.
        ensure_database(BENCH_DATABASE_URL)
        size = int(sys.argv[2]) if sys.argv[1:2] == ["1m"] and len(sys.argv) > 2 else 1_000_000
        figures = worker_memory(size)
        write_results("scan_1m", {"database": "postgresql", "figures": figures})
        if sys.argv[1:2] == ["1m"]:
            return 0
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
