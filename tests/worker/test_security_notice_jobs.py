"""Security notices through the real pieces: PostgreSQL, a Redis broker, Celery worker
processes and an SMTP server on loopback. The change's commit queues the send task itself (no
scan needed), and a worker killed in the middle of a notice costs no notice and no copy."""

from __future__ import annotations

import signal
import time

import pytest
import sqlalchemy as sa

from intake.extensions import db
from intake.models import OutboxStatus, ReminderOutbox, Role
from intake.services import accounts, reminders
from tests.builders import make_user
from tests.mailserver import MailServer
from tests.worker.conftest import JobStack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

TOLD = {"holder@example.org", "admin@example.org", "other-admin@example.org"}


def reset_holders_second_factor(stack: JobStack) -> None:
    """What `flask users reset-totp` does, in the app's own process: the commit queues it."""
    with stack.app.app_context():
        make_user(Role.CASEWORKER, email="holder@example.org")
        make_user(Role.ADMIN, email="admin@example.org")
        make_user(Role.ADMIN, email="other-admin@example.org")
        accounts.operator_reset_totp("holder@example.org")


def statuses(stack: JobStack) -> list[OutboxStatus]:
    with stack.app.app_context():
        db.session.rollback()
        return list(
            db.session.scalars(
                sa.select(ReminderOutbox.status)
                .where(ReminderOutbox.kind == "security")
                .order_by(ReminderOutbox.id)
            )
        )


def test_the_changes_commit_queues_its_notices_and_each_arrives_once(
    stack: JobStack, mail_server: MailServer
) -> None:
    mail_server.start()
    stack.start_worker()
    reset_holders_second_factor(stack)
    assert wait_for(lambda: statuses(stack) == [OutboxStatus.SENT] * 3, timeout=60), (
        stack.worker_log()
    )
    time.sleep(1)
    messages = mail_server.messages
    assert sorted(message.recipients[0] for message in messages) == sorted(TOLD)
    assert all("second factor reset" in message.text for message in messages)


def test_a_worker_killed_mid_notice_still_delivers_each_exactly_once(
    stack: JobStack, mail_server: MailServer
) -> None:
    mail_server.handler.stall_seconds = 8  # the first notice hangs in its SMTP transaction
    mail_server.start()
    stack.start_worker(name="doomed")
    reset_holders_second_factor(stack)
    assert mail_server.handler.stalled.wait(timeout=60), stack.worker_log("doomed")
    assert OutboxStatus.SENDING in statuses(stack)
    stack.stop_workers(signal.SIGKILL)  # the whole worker, mid-SMTP transaction

    stack.start_worker(name="survivor")
    time.sleep(3.5)  # the dead worker's claim expires (REMINDER_CLAIM_TIMEOUT_SECONDS=3)
    with stack.app.app_context():
        assert reminders.scan().claims_recovered == 3
    assert wait_for(lambda: statuses(stack) == [OutboxStatus.SENT] * 3, timeout=60), (
        stack.worker_log("survivor")
    )
    time.sleep(9)  # past the stall: the interrupted transaction never becomes a message
    assert sorted(message.recipients[0] for message in mail_server.messages) == sorted(TOLD)
