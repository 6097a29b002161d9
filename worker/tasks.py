"""Celery tasks. They take ids, never ORM objects or plaintext (STYLE §5)."""

from __future__ import annotations

import os
import socket
from typing import Any

import sqlalchemy as sa
from celery import shared_task

from intake.db import utcnow
from intake.extensions import db
from intake.models import Heartbeat
from intake.services import audit_anchor, reminders, retention, staff_sessions


@shared_task(
    name="system.heartbeat",
    # SQLite (the embedded default) has one writer at a time: a busy database is retried.
    autoretry_for=(sa.exc.OperationalError,),
    retry_backoff=1,
    max_retries=5,
)
def heartbeat(name: str = "worker") -> str:
    """Record that a worker is alive and can reach the database."""
    detail = f"{socket.gethostname()}:{os.getpid()}"
    row = db.session.get(Heartbeat, name)
    if row is None:
        db.session.add(Heartbeat(name=name, seen_at=utcnow(), detail=detail))
    else:
        row.seen_at = utcnow()
        row.detail = detail
    db.session.commit()
    return detail


@shared_task(name="deadlines.scan")
def scan_deadlines() -> dict[str, int]:
    """Write due reminders to the outbox and queue every unsent row (beat, every few minutes)."""
    summary = reminders.scan().as_dict()
    # The audit anchor moves with the scan: truncation after it shows at the next check.
    audit_anchor.advance()
    return summary


@shared_task(
    bind=True,
    name="reminders.send",
    # A refusing mail server and a restarting database are both passing faults. Backoff stays
    # under REMINDER_REQUEUE_SECONDS so a scan does not queue a second chain beside this one.
    autoretry_for=(reminders.TransientMailError, sa.exc.OperationalError, sa.exc.InterfaceError),
    retry_backoff=True,
    retry_backoff_max=240,
    retry_jitter=True,
    max_retries=8,
    # Out of retries on a refusing mail server: one line, no traceback (the row waits for the
    # next scan; reminders._transmit logged the server and the error at each attempt).
    throws=(reminders.TransientMailError,),
)
def send_reminder(self: Any, outbox_id: int) -> str:
    """Send one outbox row; idempotent. After the last retry the row stays unsent and the
    next scan queues it again, until REMINDER_RETRY_HOURS fail it (intake.services.delivery)."""
    return reminders.send(outbox_id)


@shared_task(
    bind=True,
    name="reminders.send_many",
    autoretry_for=(reminders.TransientMailError, sa.exc.OperationalError, sa.exc.InterfaceError),
    retry_backoff=True,
    retry_backoff_max=240,
    retry_jitter=True,
    max_retries=8,
    throws=(reminders.TransientMailError,),
)
def send_reminders(self: Any, outbox_ids: list[int]) -> dict[str, int]:
    """Send several outbox rows over one SMTP session (what a scan queues); idempotent like
    ``reminders.send``: a retry skips the rows already sent."""
    outcomes = list(reminders.send_many(outbox_ids).values())
    return {outcome: outcomes.count(outcome) for outcome in set(outcomes)}


@shared_task(name="housekeeping.nightly")
def nightly_housekeeping() -> dict[str, int]:
    """Delete closed cases past retention; wipe the keys of sessions that timed out."""
    return retention.nightly()


@shared_task(name="sessions.purge")
def purge_sessions() -> None:
    """Wipe the keyring keys of staff sessions that timed out, within minutes rather than at
    the next sign-in or the nightly job (a laptop left behind mid-session)."""
    staff_sessions.purge_expired()
    db.session.commit()
