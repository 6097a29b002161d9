"""Is the worker alive, is beat alive? Each records its own heartbeat, independently.

``worker``: a thread in every Celery worker's main process (worker.heartbeat.WorkerHeartbeat),
plus the ``system.heartbeat`` task beat schedules (proof that beat → broker → worker works).
``beat``: beat's own scheduler loop (worker.heartbeat.HeartbeatScheduler), whether or not a
worker runs. So a dead worker leaves "beat" fresh and "worker" stale, a dead beat the other way
round. ``/healthz`` calls one stale after ``HEARTBEAT_STALE_SECONDS``; before the first
heartbeat ever (a fresh install, tests that run no worker) it says "unknown" and stays 200.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from intake.db import utcnow
from intake.extensions import db
from intake.models import Heartbeat

PROCESSES = ("worker", "beat")


def detail() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def record(connection: sa.Connection, name: str, seen_at: datetime | None = None) -> None:
    """Upsert one heartbeat row on this connection (the caller owns the transaction)."""
    seen_at = seen_at or utcnow()
    table = Heartbeat.__table__
    updated = connection.execute(
        sa.update(table).where(table.c.name == name).values(seen_at=seen_at, detail=detail())
    )
    if not updated.rowcount:
        connection.execute(sa.insert(table).values(name=name, seen_at=seen_at, detail=detail()))


def status(now: datetime | None = None) -> dict[str, str]:
    """``{"worker": "ok" | "unknown" | "stale: last seen N s ago", "beat": …}``."""
    now = now or utcnow()
    stale_after = int(current_app.config["HEARTBEAT_STALE_SECONDS"])
    seen = dict(
        db.session.execute(
            sa.select(Heartbeat.name, Heartbeat.seen_at).where(Heartbeat.name.in_(PROCESSES))
        ).all()
    )
    result: dict[str, str] = {}
    for name in PROCESSES:
        at = seen.get(name)
        if at is None:
            result[name] = "unknown"
            continue
        age = int((now - at).total_seconds())
        result[name] = "ok" if age <= stale_after else f"stale: last seen {age} s ago"
    return result


def last_seen() -> dict[str, datetime]:
    return dict(
        db.session.execute(
            sa.select(Heartbeat.name, Heartbeat.seen_at).where(Heartbeat.name.in_(PROCESSES))
        ).all()
    )
