"""Reminders through the real pieces: PostgreSQL, a Redis broker, Celery worker processes and
an SMTP server on loopback. Each reminder arrives exactly once, whatever fails on the way.

A scan gathers each recipient's due reminders into one e-mail (a ``batch`` row). Most tests
give every referral its own caseworker, so that e-mails and reminders correspond one to one
and the counts prove exactly-once for both; the last one gives 30 referrals to three."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa

from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, OutboxStatus, ReminderOutbox
from intake.services import reminders
from tests.builders import make_org_key, make_user
from tests.mailserver import MailServer
from tests.referrals.conftest import CANARY, sent_referral
from tests.tcpproxy import TcpProxy
from tests.worker.conftest import JobStack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def due_referrals(stack: JobStack, count: int, caseworkers: int | None = None) -> None:
    """``count`` referrals whose "7 days before" reminder fell due an hour ago, shared out
    among ``caseworkers`` (by default each has its own)."""
    with stack.app.app_context():
        org = make_org_key()
        owners = [make_user() for _ in range(caseworkers or count)]
        for number in range(count):
            sent_referral(
                sent_at=utcnow() - timedelta(days=53, hours=1),
                owner=owners[number % len(owners)],
                org=org,
            )


def scan(stack: JobStack) -> dict[str, int]:
    with stack.app.app_context():
        return reminders.scan().as_dict()


def statuses(stack: JobStack, kind: str = "batch") -> list[OutboxStatus]:
    """The e-mails' statuses (``kind="reminder"``: the reminders they carry)."""
    with stack.app.app_context():
        db.session.rollback()
        return list(
            db.session.scalars(
                sa.select(ReminderOutbox.status)
                .where(ReminderOutbox.kind == kind)
                .order_by(ReminderOutbox.id)
            )
        )


def all_sent(stack: JobStack, count: int, items: int | None = None) -> Callable[[], bool]:
    """``count`` e-mails sent, and with them every one of ``items`` reminders (default: one
    each)."""
    return lambda: (
        statuses(stack) == [OutboxStatus.SENT] * count
        and statuses(stack, "reminder") == [OutboxStatus.SENT] * (items or count)
    )


def test_each_due_reminder_arrives_exactly_once_across_repeated_scans(
    stack: JobStack, mail_server: MailServer
) -> None:
    mail_server.start()
    due_referrals(stack, 3)
    stack.start_worker()
    for _ in range(3):
        scan(stack)  # every scan queues the unsent rows again; sends must not repeat
        time.sleep(0.5)
    assert wait_for(all_sent(stack, 3), timeout=60), stack.worker_log()
    time.sleep(2)  # any duplicate still in the queue has had its chance
    messages = mail_server.messages
    assert len(messages) == 3
    assert all(CANARY not in message.text for message in messages)
    assert len({message.message["Message-ID"] for message in messages}) == 3


def test_smtp_down_is_retried_and_delivered_once_it_is_back(
    stack: JobStack, mail_server: MailServer
) -> None:
    due_referrals(stack, 1)
    stack.start_worker()
    scan(stack)

    def attempted_twice() -> bool:
        with stack.app.app_context():
            db.session.rollback()
            return (db.session.scalar(sa.select(sa.func.max(ReminderOutbox.attempts))) or 0) >= 2

    assert wait_for(attempted_twice, timeout=60), stack.worker_log()
    assert mail_server.messages == []
    mail_server.start()
    assert wait_for(all_sent(stack, 1), timeout=90), stack.worker_log()
    assert len(mail_server.wait_for(1)) == 1
    time.sleep(1)
    assert len(mail_server.messages) == 1


def test_worker_killed_during_a_send_still_delivers_exactly_one_email(
    stack: JobStack, mail_server: MailServer
) -> None:
    mail_server.handler.stall_seconds = 8
    mail_server.start()
    due_referrals(stack, 1)
    stack.start_worker(name="doomed")
    scan(stack)
    assert mail_server.handler.stalled.wait(timeout=60), stack.worker_log("doomed")
    assert statuses(stack) == [OutboxStatus.SENDING]
    stack.stop_workers(signal.SIGKILL)  # the whole worker, mid-SMTP transaction

    stack.start_worker(name="survivor")
    time.sleep(3.5)  # the dead worker's claim expires (REMINDER_CLAIM_TIMEOUT_SECONDS=3)
    summary = scan(stack)
    assert summary["claims_recovered"] == 1
    assert wait_for(all_sent(stack, 1), timeout=60), stack.worker_log("survivor")
    time.sleep(9)  # past the stall: the interrupted transaction never becomes a message
    assert len(mail_server.messages) == 1


def test_redis_flushed_the_next_scan_recovers_every_unsent_reminder(
    stack: JobStack, mail_server: MailServer, redis_url: str
) -> None:
    mail_server.start()
    due_referrals(stack, 4)
    assert scan(stack)["queued"] == 4  # no worker yet: the messages wait in Redis
    redis.Redis.from_url(redis_url).flushdb()  # … and are lost
    stack.start_worker()
    time.sleep(3)
    assert mail_server.messages == []
    assert statuses(stack) == [OutboxStatus.PENDING] * 4
    assert scan(stack)["queued"] == 4
    assert wait_for(all_sent(stack, 4), timeout=60), stack.worker_log()
    time.sleep(1)
    assert len(mail_server.messages) == 4


def test_a_database_outage_during_sends_is_retried_with_backoff_not_dropped(
    stack: JobStack, mail_server: MailServer, pg_url: str
) -> None:
    url = sa.make_url(pg_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        # The worker reaches PostgreSQL through the proxy; this test process directly.
        stack.env["DATABASE_URL"] = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        mail_server.start()
        due_referrals(stack, 2)
        stack.start_worker()
        assert wait_for(lambda: "ready." in stack.worker_log(), timeout=60), stack.worker_log()
        proxy.stop()  # PostgreSQL "restarts" while the sends are queued
        scan(stack)
        assert wait_for(lambda: "Retry in" in stack.worker_log(), timeout=30), stack.worker_log()
        assert mail_server.messages == []
        proxy.start()
        # No scan runs again: the send tasks themselves must come back once the database does.
        assert wait_for(all_sent(stack, 2), timeout=60), stack.worker_log()
        time.sleep(1)
        assert len(mail_server.messages) == 2
    finally:
        proxy.stop()


def test_policy_refusal_at_data_then_recovery_delivers_each_reminder_once(
    stack: JobStack, mail_server: MailServer
) -> None:
    mail_server.handler.refusal = "550 5.7.1 Relaying denied"
    mail_server.handler.refusals_left = 4  # until an admin fixes the relay
    mail_server.start()
    due_referrals(stack, 2)
    stack.start_worker()
    scan(stack)
    assert wait_for(all_sent(stack, 2), timeout=90), stack.worker_log()
    time.sleep(2)
    messages = mail_server.messages
    assert len(messages) == 2
    assert len({message.message["Message-ID"] for message in messages}) == 2


def test_a_server_that_never_acknowledges_costs_at_most_one_duplicate_per_reminder(
    job_stack_factory: Callable[..., JobStack],
    pg_url: str,
    redis_url: str,
    mail_server: MailServer,
) -> None:
    stack = job_stack_factory(
        pg_url, redis_url, DAILY_DIGEST="false", **{**mail_server.env(), "MAIL_TIMEOUT": "1"}
    )
    mail_server.handler.silence_seconds = 2.5
    mail_server.handler.silences_left = -1
    mail_server.start()
    due_referrals(stack, 3)
    stack.start_worker()
    for _ in range(3):
        scan(stack)  # repeated scans must not add copies either
        time.sleep(1)
    assert wait_for(lambda: statuses(stack) == [OutboxStatus.FAILED] * 3, timeout=90), (
        stack.worker_log()
    )
    time.sleep(4)
    copies: dict[str, int] = {}
    for message in mail_server.messages:
        copies[message.message["Message-ID"]] = copies.get(message.message["Message-ID"], 0) + 1
    assert len(copies) == 3
    assert max(copies.values()) <= 2


def test_thirty_referrals_one_email_per_caseworker_exactly_once_through_a_killed_worker(
    stack: JobStack, mail_server: MailServer
) -> None:
    """Issue 12: one scan once sent a caseworker 28 e-mails. Three caseworkers with ten due
    referrals each get one e-mail each listing all ten, across repeated scans and a worker
    killed in the middle of a send."""
    mail_server.handler.stall_seconds = 8  # the first e-mail hangs in its SMTP transaction
    mail_server.start()
    due_referrals(stack, 30, caseworkers=3)
    stack.start_worker(name="doomed")
    assert scan(stack)["queued"] == 3
    assert mail_server.handler.stalled.wait(timeout=60), stack.worker_log("doomed")
    stack.stop_workers(signal.SIGKILL)

    stack.start_worker(name="survivor")
    time.sleep(3.5)  # the dead worker's claim expires (REMINDER_CLAIM_TIMEOUT_SECONDS=3)
    for _ in range(3):
        scan(stack)
        time.sleep(0.5)
    assert wait_for(all_sent(stack, 3, items=30), timeout=60), stack.worker_log("survivor")
    time.sleep(9)  # past the stall: the interrupted transaction never becomes a message
    messages = mail_server.messages
    assert len(messages) == 3
    assert len({m.recipients[0] for m in messages}) == 3
    with stack.app.app_context():
        refs = list(db.session.scalars(sa.select(Case.ref)))
    assert len(refs) == 30
    # Every reference in exactly one e-mail, once.
    assert sorted(ref for m in messages for ref in refs if ref in m.body) == sorted(refs)
    assert all(CANARY not in m.text and m.body.count("Reference: case ") == 10 for m in messages)
