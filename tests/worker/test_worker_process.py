"""A task executed by a real Celery worker process, over Redis and over the embedded broker."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from intake.extensions import db
from intake.models import Heartbeat
from tests.worker.conftest import JobStack, wait_for
from worker.tasks import heartbeat


def _heartbeat_arrives(stack: JobStack, name: str) -> None:
    with stack.app.app_context():
        heartbeat.delay(name)
        stack.start_worker()

        def seen() -> bool:
            db.session.rollback()
            return db.session.get(Heartbeat, name) is not None

        assert wait_for(seen, timeout=90), stack.worker_log()
        row = db.session.get(Heartbeat, name)
        assert row is not None
        host, _, pid = (row.detail or "").partition(":")
        # Done in another process on this machine: the worker, not this test process.
        assert host == socket.gethostname()
        assert pid.isdigit()
        assert int(pid) != os.getpid()


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
def test_worker_process_runs_a_task_over_redis_on_postgres(
    job_stack_factory: Callable[..., JobStack], pg_url: str, redis_url: str
) -> None:
    stack = job_stack_factory(pg_url, redis_url)
    assert stack.app.config["CELERY_BROKER_URL"].startswith("redis://")
    _heartbeat_arrives(stack, "over-redis")


@pytest.mark.slow
def test_worker_process_runs_a_task_over_the_embedded_broker(
    job_stack_factory: Callable[..., JobStack], tmp_path: Path
) -> None:
    stack = job_stack_factory(f"sqlite:///{tmp_path / 'refuge.sqlite'}")
    assert stack.app.config["CELERY_BROKER_URL"].startswith("sqla+sqlite:///")
    _heartbeat_arrives(stack, "over-sqlite-broker")


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
def test_healthz_tells_a_dead_worker_from_a_dead_beat(
    job_stack_factory: Callable[..., JobStack], pg_url: str, redis_url: str
) -> None:
    stack = job_stack_factory(
        pg_url, redis_url, HEARTBEAT_SECONDS="1", HEARTBEAT_STALE_SECONDS="4", DAILY_DIGEST="false"
    )
    client = stack.app.test_client()

    def health() -> tuple[int, dict[str, Any]]:
        with stack.app.app_context():
            response = client.get("/healthz")
            return response.status_code, response.json or {}

    assert health() == (200, {**health()[1], "worker": "unknown", "beat": "unknown"})
    worker = stack.start_worker()
    beat = stack.start_beat()

    def reads(code: int, worker_state: str, beat_state: str) -> Callable[[], bool]:
        def check() -> bool:
            status, body = health()
            return (
                status == code
                and str(body.get("worker")).startswith(worker_state)
                and str(body.get("beat")).startswith(beat_state)
            )

        return check

    logs = lambda: stack.worker_log() + stack.worker_log("beat")  # noqa: E731
    assert wait_for(reads(200, "ok", "ok"), timeout=60), (health(), logs())
    stack.kill(beat)  # beat dies; the worker lives on
    assert wait_for(reads(503, "ok", "stale"), timeout=30), (health(), logs())
    stack.start_beat()
    assert wait_for(reads(200, "ok", "ok"), timeout=60), (health(), logs())
    stack.kill(worker)  # the worker dies; beat lives on
    assert wait_for(reads(503, "stale", "ok"), timeout=30), (health(), logs())
