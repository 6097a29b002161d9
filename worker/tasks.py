"""Celery tasks. They take ids, never ORM objects or plaintext (STYLE §5)."""

from __future__ import annotations

import os
import socket

from celery import shared_task

from intake.db import utcnow
from intake.extensions import db
from intake.models import Heartbeat


@shared_task(name="system.heartbeat")
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
def scan_deadlines() -> int:
    """Queue due reminders (the scan itself comes with the referrals issue)."""
    return 0
