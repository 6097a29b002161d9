"""A worker's pool never forks in the middle of a heartbeat write (worker/heartbeat.py): SQLite
keeps its lock bookkeeping in the process, and a child forked mid-write could never write."""

from __future__ import annotations

import os
import threading
import time

from worker import heartbeat


def test_a_fork_waits_for_the_heartbeat_write_under_way() -> None:
    heartbeat._WRITING.acquire()  # a write under way in another thread
    finished: list[float] = []

    def finish_the_write() -> None:
        time.sleep(0.3)
        finished.append(time.monotonic())
        heartbeat._WRITING.release()

    writer = threading.Thread(target=finish_the_write)
    writer.start()
    pid = os.fork()
    if pid == 0:  # the child: it may take the lock at once (nothing is being written here)
        os._exit(0 if heartbeat._WRITING.acquire(blocking=False) else 1)
    forked = time.monotonic()
    _, status = os.waitpid(pid, 0)
    writer.join()
    assert finished
    assert forked >= finished[0]
    assert os.waitstatus_to_exitcode(status) == 0
    assert heartbeat._WRITING.acquire(blocking=False)  # and the parent's is free again
    heartbeat._WRITING.release()
