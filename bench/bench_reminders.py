"""Reminders delivered per second to a local SMTP server, with 1 and 2 Celery worker processes.

Usage: python bench/bench_reminders.py [COUNT] [WORKERS]   (default 300 reminders; 1,2)
       python bench/bench_reminders.py quick [COUNT]       (default 1000 e-mails; 2 workers)

PostgreSQL for the outbox, Redis as the broker, aiosmtpd on loopback as the mail server, real
``celery worker`` processes (concurrency 1 each). The clock runs from the scan that queues the
reminders until the last one is marked sent (``run``; quick mode: see below).

Quick mode (``make bench-quick``) records ``delivery_2w_ratio``: COUNT caseworkers each have one
referral whose "7 days before" reminder fell due an hour ago, so one scan makes COUNT e-mails
(one per recipient). Refuge: the scan, then 2 Celery workers deliver them; the delivery clock
runs from the moment the scan has committed and queued the e-mails until every row is marked
sent. The scan is timed apart (``scan_s`` in the detail, with ``refuge_with_scan_per_s``): it
has its own figure (``scan_first_100k``, bench_scan.py), and the bare senders do not search for
what to send either. (Workers may start on the first tasks while the scan is still queueing the
last ones; queueing 1,000 e-mails in tasks of REMINDER_SEND_BATCH takes a few milliseconds.)
Bare, in the same run: the very messages the sink received (same bytes, same recipients) sent
again by two processes, each with ``smtplib`` over one SMTP session for its half, to the same
sink; checked to arrive the same. Both clocks stop without polling the sink (see Arrivals). The
detail also gives the CPU per e-mail of the Refuge workers (their pool processes included) and
of the bare senders: on a machine shared with other work it varies less than the rates do.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from _common import (
    BENCH_DATABASE_URL,
    BENCH_REDIS_URL,
    ROOT,
    cpu_seconds,
    ensure_database,
    write_results,
)


def fill(app: Any, count: int, recipients: int) -> None:
    """A fresh schema with ``count`` referrals whose "7 days before" reminder fell due an hour
    ago, owned round-robin by ``recipients`` caseworkers (one scan: one e-mail per recipient)."""
    from flask_migrate import upgrade

    from intake import crypto
    from intake.db import utcnow
    from intake.extensions import db
    from intake.models import (
        Case,
        DirectoryEntry,
        OrgKey,
        Referral,
        ReferralKind,
        ReferralState,
        Role,
        SealedBy,
        Urgency,
        User,
    )

    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        public, _ = crypto.generate_keypair()
        key = OrgKey(public_key=public, fingerprint=crypto.fingerprint(public))
        owners = [
            User(email=f"cw{number}@bench.example", role=Role.CASEWORKER)
            for number in range(recipients)
        ]
        db.session.add_all([key, *owners, DirectoryEntry(id="bench-ngo", name="Bench NGO")])
        db.session.flush()
        sent = utcnow() - timedelta(days=53, hours=1)  # "7 days before" fell due an hour ago
        cases = [
            Case(
                ref=f"RF-R{number:08d}",
                urgency=Urgency.DAYS,
                sealed_by=SealedBy.BROWSER,
                org_key_id=key.id,
                sealed_answers="A" * 64,
                receipt_lookup=f"{number:064x}",
                assignee_id=owners[number % recipients].id,
            )
            for number in range(count)
        ]
        db.session.add_all(cases)
        db.session.flush()
        db.session.add_all(
            Referral(
                case_id=case.id,
                entry_id="bench-ngo",
                kind=ReferralKind.SP_URGENT_APPEAL,
                state=ReferralState.SENT,
                owner_id=case.assignee_id,
                clock_started_at=sent,
                sent_at=sent,
                due_at=sent + timedelta(days=60),
            )
            for case in cases
        )
        db.session.commit()


@dataclass
class Delivery:
    """One Refuge run: the scan's time, then the delivery's, and what the sink received."""

    scan_seconds: float
    delivery_seconds: float
    rows_sent: int
    received: list[Any]
    send_batch: int
    worker_cpu_seconds: float | None = None


class Arrivals:
    """Wakes the bench once the sink has received ``expected`` e-mails, without polling it.
    The sink runs in this process: a thread polling its list every few milliseconds would
    take the GIL from the sink's own thread while the workers wait for its replies, a cost the
    bare run (whose clock waits on its senders) does not pay. The check after each message is
    the same in both runs."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.expected = 0
        self.reached = threading.Event()
        record = handler.handle_DATA

        async def handle_data(server: Any, session: Any, envelope: Any) -> str:
            reply: str = await record(server, session, envelope)
            if self.expected and len(handler.received) >= self.expected:
                self.reached.set()
            return reply

        handler.handle_DATA = handle_data

    def expect(self, count: int) -> None:
        self.reached.clear()
        self.expected = count

    def wait(self, timeout: float) -> bool:
        return self.reached.wait(timeout)


def deliver(count: int, workers: int, recipients: int) -> tuple[Delivery, Any]:
    """Fill the outbox's sources (:func:`fill`), start ``workers`` Celery workers, scan, and
    wait until every row (items and their batches) is marked sent. Returns the run and the
    still running sink (the caller stops it)."""
    import redis
    import sqlalchemy as sa

    from intake import create_app
    from intake.extensions import db
    from intake.models import OutboxStatus, ReminderOutbox
    from intake.services import reminders
    from tests.mailserver import MailServer

    server = MailServer()
    server.arrivals = Arrivals(server.handler)  # type: ignore[attr-defined]
    server.start()
    env = {
        **os.environ,
        "INTAKE_ENV": "testing",
        "SECRET_KEY": "bench",
        "DATABASE_URL": BENCH_DATABASE_URL,
        "REDIS_URL": BENCH_REDIS_URL,
        "DAILY_DIGEST": "false",
        **server.env(),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DAILY_DIGEST"):
        os.environ[name] = env[name]
    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
    app = create_app({"INTAKE_ENV": "testing", "SECRET_KEY": "bench"})
    processes: list[subprocess.Popen[bytes]] = []
    try:
        fill(app, count, recipients)
        with app.app_context():
            processes = start_workers(workers, env)
            celery = app.extensions["celery"]
            deadline = time.monotonic() + 60
            # The clocks start once every worker answers a ping (start-up is not delivery).
            while time.monotonic() < deadline:
                if len(celery.control.ping(timeout=0.5)) >= workers:
                    break
            server.arrivals.expect(recipients)  # type: ignore[attr-defined]
            sessions = [process.pid for process in processes]
            cpu_before = cpu_seconds(sessions)
            started = time.perf_counter()
            summary = reminders.scan()
            queued = time.perf_counter()
            rows = summary.reminders_written + summary.batches_written
            sent_count = 0
            # Wait for the sink first (woken by it, see Arrivals), then poll the database:
            # polling the outbox all along would load the database the workers write to. Short
            # sleeps: the polls are what ends the clock (the bare run's ends when its senders
            # return).
            server.arrivals.wait(600)  # type: ignore[attr-defined]
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
                if sent_count >= rows:
                    break
                time.sleep(0.005)
            finished = time.perf_counter()
            cpu_after = cpu_seconds(sessions)
            db.session.remove()
        received = server.wait_for(recipients, timeout=30)
    except BaseException:
        server.stop()
        raise
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
    run = Delivery(
        scan_seconds=queued - started,
        delivery_seconds=finished - queued,
        rows_sent=sent_count,
        received=received,
        send_batch=int(app.config["REMINDER_SEND_BATCH"]),
        worker_cpu_seconds=(
            cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
        ),
    )
    return run, server


def run(count: int, workers: int) -> dict[str, float | int]:
    """``count`` reminders of one caseworker: one scan, one e-mail listing them all."""
    delivery, server = deliver(count, workers, recipients=1)
    server.stop()
    elapsed = delivery.scan_seconds + delivery.delivery_seconds
    return {
        "workers": workers,
        "reminders": count,
        "delivered": len(delivery.received),
        "seconds": round(elapsed, 2),
        "per_second": round(delivery.rows_sent / elapsed, 1),
    }


def _bare_sender(job: tuple[int, list[tuple[str, list[str], bytes]], Any]) -> tuple[int, float]:
    """One bare sender: one SMTP session, the messages one after the other. Returns how many
    it sent and the CPU seconds that took."""
    port, messages, barrier = job
    barrier.wait()
    cpu = time.process_time()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as session:
        for sender, recipients, raw in messages:
            session.sendmail(sender, recipients, raw)
    return len(messages), time.process_time() - cpu


def bare_send(
    port: int, messages: list[tuple[str, list[str], bytes]], senders: int
) -> tuple[float, float]:
    """Seconds for ``senders`` processes to send ``messages`` between them, and their CPU
    seconds."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(senders + 1)
        with context.Pool(senders) as pool:
            shares = [(port, messages[n::senders], barrier) for n in range(senders)]
            pending = pool.map_async(_bare_sender, shares)
            barrier.wait(timeout=120)
            started = time.perf_counter()
            done = pending.get(timeout=600)
            seconds = time.perf_counter() - started
    sent, cpu = sum(count for count, _cpu in done), sum(cpu for _count, cpu in done)
    if sent != len(messages):
        raise RuntimeError(f"bare senders sent {sent} of {len(messages)}")
    return seconds, cpu


def start_workers(workers: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--concurrency", "1",
             "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
             "-n", f"bench{number}@%h"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for number in range(workers)
    ]  # fmt: skip


def quick(count: int = 1000, workers: int = 2) -> dict[str, Any]:
    from ratios import record

    delivery, server = deliver(count, workers, recipients=count)
    try:
        received = delivery.received
        if len(received) != count:
            raise RuntimeError(f"the sink received {len(received)} e-mails, expected {count}")
        messages = [(m.sender, list(m.recipients), m.raw) for m in received]
        with server.handler.lock:
            server.handler.received.clear()
        server.arrivals.expect(count)
        bare_seconds, bare_cpu = bare_send(server.port, messages, workers)
        again = server.wait_for(count, timeout=30)
        if Counter((tuple(m.recipients), m.raw) for m in again) != Counter(
            (tuple(recipients), raw) for _sender, recipients, raw in messages
        ):
            raise RuntimeError("the bare senders delivered other messages")
    finally:
        server.stop()
    refuge_seconds = delivery.delivery_seconds
    refuge_rate, bare_rate = count / refuge_seconds, count / bare_seconds
    detail = {
        "emails": count,
        "workers": workers,
        "bare_senders": workers,
        "refuge_per_s": round(refuge_rate, 1),
        "bare_per_s": round(bare_rate, 1),
        "refuge_s": round(refuge_seconds, 3),
        "scan_s": round(delivery.scan_seconds, 3),
        "refuge_with_scan_per_s": round(
            count / (delivery.scan_seconds + delivery.delivery_seconds), 1
        ),
        "bare_s": round(bare_seconds, 3),
        "send_batch": delivery.send_batch,
        # CPU per e-mail of the workers (their pool processes included) and of the senders.
        "refuge_worker_cpu_ms_per_email": (
            round(delivery.worker_cpu_seconds * 1000 / count, 3)
            if delivery.worker_cpu_seconds is not None
            else None
        ),
        "bare_sender_cpu_ms_per_email": round(bare_cpu * 1000 / count, 3),
        "smtp": "aiosmtpd on loopback, in the bench process",
        "note": "2-core machine shared with other work; the clock of Refuge starts when the "
        "scan has committed and queued the e-mails (scan_s, timed apart)",
    }
    record(f"delivery_{workers}w_ratio", refuge_rate / bare_rate, **detail)
    return detail


def main() -> int:
    if sys.argv[1:2] == ["quick"]:
        ensure_database(BENCH_DATABASE_URL)
        figures = quick(int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
        write_results("reminders_quick", {"smtp": "aiosmtpd on loopback", "figures": figures})
        return 0
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
