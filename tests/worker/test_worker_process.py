"""A task executed by a real Celery worker process, over Redis and over the embedded broker."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

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
