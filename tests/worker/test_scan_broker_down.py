"""`flask deadlines scan` with the broker down: one line, non-zero, and nothing marked queued
that never reached the broker."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from intake.db import utcnow
from intake.extensions import db
from intake.models import OutboxStatus, ReminderOutbox
from intake.services import reminders
from tests.builders import make_org_key, make_user
from tests.mailserver import free_port
from tests.referrals.conftest import sent_referral
from tests.worker.conftest import PROJECT_ROOT, JobStack


def test_scan_with_the_broker_down_says_so_in_one_line_and_leaves_rows_for_the_next_scan(
    job_stack_factory: Callable[..., JobStack], tmp_path: Path
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    stack = job_stack_factory(
        f"sqlite:///{tmp_path / 'refuge.sqlite'}", closed, DAILY_DIGEST="false"
    )
    with stack.app.app_context():
        org = make_org_key()
        for _ in range(3):  # three caseworkers: three reminder e-mails to queue
            sent_referral(
                sent_at=utcnow() - timedelta(days=53, hours=1), owner=make_user(), org=org
            )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "flask", "--app", "intake", "deadlines", "scan"],
        cwd=PROJECT_ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert "broker" in output
    assert "3 reminder(s) left unqueued" in output
    with stack.app.app_context():
        rows = db.session.execute(
            sa.select(ReminderOutbox.status, ReminderOutbox.queued_at).where(
                ReminderOutbox.kind == "batch"
            )
        ).all()
        assert rows == [(OutboxStatus.PENDING, None)] * 3
        # The next scan (broker back) queues them at once, not REMINDER_REQUEUE_SECONDS later.
        queued: list[int] = []
        assert reminders.scan(enqueue=queued.append).queued == 3
