"""Security notices through the real pieces: PostgreSQL, a Redis broker, Celery worker
processes and an SMTP server on loopback. The change's commit queues the send task itself (no
scan needed), and a worker killed in the middle of a notice costs no notice and no copy."""

from __future__ import annotations

import re
import signal
import time

import pytest
import sqlalchemy as sa

from intake.extensions import db
from intake.models import OutboxStatus, ReminderOutbox, Role, User
from intake.services import accounts, reminders
from tests.admin.test_failed_reminder_reasons import refuse_mailbox
from tests.builders import make_user, sign_in
from tests.mailserver import MailServer
from tests.worker.conftest import JobStack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

ADMIN = "admin@example.org"
TOLD = {"holder@example.org", ADMIN, "other-admin@example.org"}


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


def test_a_notice_the_mail_server_refuses_is_counted_as_a_security_notice(
    stack: JobStack, mail_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a real worker: the holder's mailbox is refused, so their notice fails. The
    worker's log, the admin's pages and the /referrals banner call it a security notice, not
    a reminder (fails on the code before: "1 reminder could not be e-mailed")."""
    refuse_mailbox(mail_server, monkeypatch, "holder@example.org")
    mail_server.start()
    stack.start_worker()
    reset_holders_second_factor(stack)
    assert wait_for(
        lambda: sorted(statuses(stack)) == sorted([OutboxStatus.SENT] * 2 + [OutboxStatus.FAILED]),
        timeout=60,
    ), stack.worker_log()
    log = stack.worker_log()
    assert re.search(r"security notice \d+ could not be e-mailed", log), log
    assert not re.search(r"reminder \d+ could not be e-mailed", log)
    with stack.app.app_context():
        client = stack.app.test_client()
        sign_in(client, db.session.scalars(sa.select(User).where(User.email == ADMIN)).one())
        page = " ".join(client.get("/admin/reminders").get_data(as_text=True).split())
        assert "1 security notice could not be e-mailed." in page
        assert "reminder could not be e-mailed" not in page
        assert "1 security notice could not be e-mailed" in client.get("/admin/").text
        assert "data-failed-reminders" not in client.get("/referrals/?view=all").text
