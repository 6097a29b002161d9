"""Real gunicorn with the Procfile's config module (``config/gunicorn.py``) on a free loopback
port, for tests of what only the server process does: its logs, its workers and timeouts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail("gunicorn did not start")


@contextmanager
def serving(
    tmp_path: Path,
    error_log: Path,
    *,
    migrated: bool = False,
    arguments: tuple[str, ...] = (),
    **settings: str,
) -> Iterator[int]:
    """gunicorn serving a development instance on SQLite under ``tmp_path``, one worker, its
    error log in ``error_log``; ``settings`` are more environment variables, ``arguments``
    more command-line options. ``migrated``: the database is at the migrations' head first
    (pages that read it answer 503 without). Yields the port; stops it after."""
    port = free_port()
    env = {
        **os.environ,
        "INTAKE_ENV": "development",
        "INTAKE_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'refuge.sqlite'}",
        "SECRET_KEY": "gunicorn-test-secret",
        "BIND_HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        **settings,
    }
    if migrated:
        subprocess.run(  # noqa: S603 — our own command, fixed arguments
            [sys.executable, "-m", "flask", "--app", "intake", "db", "upgrade"],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    process = subprocess.Popen(  # noqa: S603 — our own gunicorn, fixed arguments
        [
            sys.executable, "-m", "gunicorn", "--config", "python:config.gunicorn",
            "--error-logfile", str(error_log), *arguments, "intake:create_app()",
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )  # fmt: skip
    try:
        _wait_for_port(port, process)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
