"""Reminders delivered per second to a local SMTP server, with 1 and 2 Celery worker processes.

Usage: python bench/bench_reminders.py [COUNT] [WORKERS]   (default 300 reminders; 1,2)

PostgreSQL for the outbox, Redis as the broker, aiosmtpd on loopback as the mail server, real
``celery worker`` processes (concurrency 1 each). The clock runs from the scan that queues the
reminders until the last one is marked sent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from _common import BENCH_DATABASE_URL, BENCH_REDIS_URL, ROOT, ensure_database, write_results


def run(count: int, workers: int) -> dict[str, float | int]:
    import redis
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from intake import create_app, crypto
    from intake.db import utcnow
    from intake.extensions import db
    from intake.models import (
        Case,
        DirectoryEntry,
        OrgKey,
        OutboxStatus,
        Referral,
        ReferralKind,
        ReferralState,
        ReminderOutbox,
        Role,
        SealedBy,
        Urgency,
        User,
    )
    from intake.services import reminders
    from tests.mailserver import MailServer

    server = MailServer().start()
    env = {
        **os.environ,
        "INTAKE_ENV": "testing",
        "SECRET_KEY": "bench",
        "DATABASE_URL": BENCH_DATABASE_URL,
        "REDIS_URL": BENCH_REDIS_URL,
        "DAILY_DIGEST": "false",
        **server.env(),
    }
    os.environ.update({key: env[key] for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")})
    os.environ["DAILY_DIGEST"] = "false"
    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
    app = create_app({"INTAKE_ENV": "testing", "SECRET_KEY": "bench"})
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with app.app_context():
            db.drop_all()
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            upgrade()
            public, _ = crypto.generate_keypair()
            key = OrgKey(public_key=public, fingerprint=crypto.fingerprint(public))
            owner = User(email="owner@bench.example", role=Role.CASEWORKER)
            db.session.add_all([key, owner, DirectoryEntry(id="bench-ngo", name="Bench NGO")])
            db.session.commit()
            sent = utcnow() - timedelta(days=53, hours=1)  # "7 days before" fell due an hour ago
            for number in range(count):
                case = Case(
                    ref=f"RF-R{number:08d}",
                    urgency=Urgency.DAYS,
                    sealed_by=SealedBy.BROWSER,
                    org_key_id=key.id,
                    sealed_answers="A" * 64,
                    receipt_lookup=f"{number:064x}",
                    assignee_id=owner.id,
                )
                db.session.add(case)
                db.session.flush()
                db.session.add(
                    Referral(
                        case_id=case.id,
                        entry_id="bench-ngo",
                        kind=ReferralKind.SP_URGENT_APPEAL,
                        state=ReferralState.SENT,
                        owner_id=owner.id,
                        clock_started_at=sent,
                        sent_at=sent,
                        due_at=sent + timedelta(days=60),
                    )
                )
            db.session.commit()
            for number in range(workers):
                processes.append(
                    subprocess.Popen(  # noqa: S603
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "worker.app",
                            "worker",
                            "--concurrency",
                            "1",
                            "--loglevel",
                            "WARNING",
                            "--without-mingle",
                            "--without-gossip",
                            "-n",
                            f"bench{number}@%h",
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
            # The clock starts once every worker answers a ping (start-up is not delivery).
            celery = app.extensions["celery"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if len(celery.control.ping(timeout=0.5)) >= workers:
                    break
            started = time.perf_counter()
            reminders.scan()
            sent_count = 0
            while time.perf_counter() - started < 600:
                db.session.rollback()
                sent_count = (
                    db.session.scalar(
                        sa.select(sa.func.count())
                        .select_from(ReminderOutbox)
                        .where(ReminderOutbox.status == OutboxStatus.SENT)
                    )
                    or 0
                )
                if sent_count >= count:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            delivered = len(server.messages)
            db.session.remove()
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        server.stop()
    return {
        "workers": workers,
        "reminders": count,
        "delivered": delivered,
        "seconds": round(elapsed, 2),
        "per_second": round(sent_count / elapsed, 1),
    }


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    worker_counts = [int(n) for n in (sys.argv[2] if len(sys.argv) > 2 else "1,2").split(",")]
    ensure_database(BENCH_DATABASE_URL)
    rows = []
    print(f"{'workers':>7} {'reminders':>9} {'delivered':>9} {'seconds':>8} {'per second':>10}")
    for workers in worker_counts:
        row = run(count, workers)
        rows.append(row)
        print(
            f"{row['workers']:>7} {row['reminders']:>9} {row['delivered']:>9} "
            f"{row['seconds']:>8} {row['per_second']:>10}"
        )
    write_results("reminders", {"smtp": "aiosmtpd on loopback", "runs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
