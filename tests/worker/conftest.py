"""Real Celery worker processes for job tests, over Redis or the embedded SQLite broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade

from intake import create_app
from intake.extensions import db
from tests import services
from tests.conftest import TEST_SECRET
from tests.mailserver import MailServer

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class JobStack:
    """An app in this process plus the environment a worker process needs to share it."""

    app: Flask
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_dir: Path = PROJECT_ROOT

    def start_worker(self, *extra: str, name: str = "w1") -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{name}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker.app",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"{name}@%h",
                *extra,
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(process)
        return process

    def start_beat(self) -> subprocess.Popen[bytes]:
        """The one beat, with its schedule file in the test's folder."""
        log = (self.log_dir / "worker-beat.log").open("wb")
        process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker.app",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.log_dir / "beat-schedule"),
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.workers.remove(process)

    def worker_log(self, name: str = "w1") -> str:
        return (self.log_dir / f"worker-{name}.log").read_text(errors="replace")

    def stop_workers(self, sig: int = signal.SIGTERM) -> None:
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, sig)
        for process in self.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.workers.clear()


def wait_for(condition: Callable[[], bool], timeout: float = 60, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@pytest.fixture
def job_stack_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., JobStack]]:
    stacks: list[JobStack] = []

    def build(database_url: str, redis_url: str | None = None, **env: str) -> JobStack:
        instance = tmp_path / "instance"
        variables = {
            "INTAKE_ENV": "testing",
            "SECRET_KEY": TEST_SECRET,
            "INTAKE_INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url or "",
            **env,
        }
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        app = create_app({"INTAKE_ENV": "testing"})
        with app.app_context():
            services.empty_database()
            upgrade()
        stack = JobStack(app=app, env={**os.environ, **variables}, log_dir=tmp_path)
        stacks.append(stack)
        return stack

    yield build
    for stack in stacks:
        stack.stop_workers(signal.SIGKILL)
        with stack.app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """A real SMTP server on loopback for the workers' e-mails."""
    server = MailServer()
    yield server
    server.stop()


@pytest.fixture
def stack(
    job_stack_factory: Callable[..., JobStack],
    pg_url: str,
    redis_url: str,
    mail_server: MailServer,
) -> JobStack:
    """Worker and web on PostgreSQL and Redis, mailing to ``mail_server``: no digest, claims
    that expire in 3 s and unsent rows queued again at once (the e-mail jobs' tests)."""
    return job_stack_factory(
        pg_url,
        redis_url,
        DAILY_DIGEST="false",
        REMINDER_CLAIM_TIMEOUT_SECONDS="3",
        REMINDER_REQUEUE_SECONDS="0",
        **mail_server.env(),
    )
