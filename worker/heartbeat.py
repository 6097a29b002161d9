"""Worker and beat each prove they are alive on their own (intake.services.heartbeats).

Both write from a short-lived thread over their own unpooled engine: a stalled database must
not stall beat's loop or the worker's event loop, and no pooled connection may be inherited by
a forked pool process. Nor may a write be under way while the pool forks: SQLite keeps its
locks' bookkeeping in the process, so a child forked mid-write believes the write lock taken
for good and every task's write there fails with "database is locked" (seen on the embedded
default). A fork waits for the write in progress (:data:`_WRITING`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import sqlalchemy as sa
from celery import bootsteps
from celery.beat import PersistentScheduler
from flask import Flask
from sqlalchemy.pool import NullPool

from intake.services import heartbeats

log = logging.getLogger(__name__)

# Held while a heartbeat is written; a fork (the prefork pool's) takes it first.
_WRITING = threading.Lock()
os.register_at_fork(
    before=_WRITING.acquire, after_in_parent=_WRITING.release, after_in_child=_WRITING.release
)


class _Recorder:
    def __init__(self, flask_app: Flask, name: str) -> None:
        self.name = name
        self.interval = float(flask_app.config["HEARTBEAT_SECONDS"])
        url = sa.make_url(flask_app.config["SQLALCHEMY_DATABASE_URI"])
        # SQLite has one writer at a time: wait for it as the app's own connections do.
        connect_args = {"timeout": 15} if url.get_backend_name() == "sqlite" else {}
        self.engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        self._busy = threading.Lock()
        self._failing = False

    def beat(self) -> None:
        """Record now, in a thread, unless the previous write is still hanging."""
        if self._busy.acquire(blocking=False):
            threading.Thread(target=self._write, daemon=True, name=f"{self.name}-hb").start()

    def _write(self) -> None:
        try:
            with _WRITING, self.engine.begin() as connection:
                heartbeats.record(connection, self.name)
            self._failing = False
        except Exception as error:  # one line per outage, not a stack every interval
            if not self._failing:
                log.warning("%s heartbeat not recorded: %s", self.name, type(error).__name__)
            self._failing = True
        finally:
            self._busy.release()


def _flask_app(celery_app: Any) -> Flask:
    app: Flask = celery_app.flask_app
    return app


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Records "worker" every HEARTBEAT_SECONDS from the worker's main process."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.stopped = threading.Event()

    def start(self, parent: Any) -> None:
        recorder = _Recorder(_flask_app(parent.app), "worker")
        threading.Thread(
            target=self._loop, args=(recorder,), daemon=True, name="worker-heartbeat"
        ).start()

    def _loop(self, recorder: _Recorder) -> None:
        while True:
            recorder.beat()
            if self.stopped.wait(recorder.interval):
                return

    def stop(self, parent: Any) -> None:
        self.stopped.set()


class HeartbeatScheduler(PersistentScheduler):
    """Beat's scheduler, recording "beat" from its own loop at least every HEARTBEAT_SECONDS."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = _Recorder(_flask_app(self.app), "beat")
        self.last_recorded = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.monotonic()
        if now - self.last_recorded >= self.recorder.interval:
            self.last_recorded = now
            self.recorder.beat()
        sleep: float = super().tick(*args, **kwargs)
        return min(sleep, self.recorder.interval)
