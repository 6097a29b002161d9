"""A mail server on a closed port, through a real Celery worker: each failed attempt is logged
on ONE line naming the server's host and port and the error's class (never the account), a
send task out of retries adds one line and no traceback (a review found only tracebacks of
``TransientMailError('ConnectionRefusedError')``), the admin pages say so at once, and once an
SMTP server listens on that port each e-mail arrives exactly once and the banner goes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from intake.models import Role
from intake.services import reminders
from tests.admin.test_mail_failing_banner import PASSWORD, USERNAME, banner, closed_port
from tests.builders import make_user, sign_in
from tests.mailserver import MailServer, RecordingHandler
from tests.worker.conftest import JobStack, wait_for
from tests.worker.test_reminder_jobs import all_sent, due_referrals

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def _any_sign_in(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    return AuthResult(success=True)


def test_a_closed_port_is_one_log_line_with_host_and_port_then_each_email_arrives_once(
    job_stack_factory: Callable[..., JobStack], pg_url: str, redis_url: str
) -> None:
    port = closed_port()
    stack = job_stack_factory(
        pg_url,
        redis_url,
        DAILY_DIGEST="false",
        REMINDER_CLAIM_TIMEOUT_SECONDS="3",
        REMINDER_REQUEUE_SECONDS="0",
        MAIL_USERNAME=USERNAME,
        MAIL_PASSWORD=PASSWORD,
        **MailServer(port).env(),
    )
    due_referrals(stack, 2)
    with stack.app.app_context():
        queued: list[int] = []
        reminders.scan(enqueue=queued.append)
        assert len(queued) == 2
        # A send task on its last retry: the attempt fails, and so does the task.
        stack.app.extensions["celery"].send_task("reminders.send_many", args=[queued], retries=8)
    stack.start_worker()
    assert wait_for(lambda: " raised " in stack.worker_log(), timeout=60), stack.worker_log()

    log = stack.worker_log()
    line = f"mail server 127.0.0.1:{port} did not take the e-mail (ConnectionRefusedError)"
    failed = [text for text in log.splitlines() if line in text]
    assert len(failed) == 1, log
    assert re.search(
        rf"reminder {queued[0]} is retried until \d{{4}}-\d\d-\d\d \d\d:\d\d UTC", failed[0]
    )
    assert "WARNING" in failed[0]
    assert "raised expected: TransientMailError" in log, log
    assert "Traceback" not in log, log
    assert USERNAME not in log
    assert PASSWORD not in log

    client = stack.app.test_client()
    with stack.app.app_context():
        sign_in(client, make_user(Role.ADMIN))
    shown = banner(client.get("/admin/reminders").get_data(as_text=True))
    assert f"The connection was refused by 127.0.0.1:{port}." in shown
    assert "; 2 e-mails are waiting." in shown

    # The mail server is back on that port (taking the relay's sign-in): the next scan
    # queues both, and each arrives once.
    handler = RecordingHandler()
    server = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_any_sign_in,
        auth_require_tls=False,
    )
    server.start()
    try:
        with stack.app.app_context():
            reminders.scan()
        assert wait_for(all_sent(stack, 2), timeout=60), stack.worker_log()
        time.sleep(2)  # a duplicate still queued has had its chance
        assert len(handler.received) == 2
        assert len({message.message["Message-ID"] for message in handler.received}) == 2
    finally:
        server.stop()
    for path in ("/admin/", "/admin/reminders", "/referrals/"):
        assert "data-mail-failing" not in client.get(path).get_data(as_text=True), path
    assert "Traceback" not in stack.worker_log()
