"""A request body that arrives slowly is read to its end, and others are served meanwhile
(a review on a slow phone link: under gunicorn's default sync worker, a body still arriving
after the worker timeout killed the worker, the defender's photo was lost on every retry, and
the site served nobody else while it waited). Real gunicorn with the Procfile's config module,
its timeout lowered to 3 s so that a 7-second upload is well past it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gunicorn_process import serving

TIMEOUT_SECONDS = 3


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    # One worker: another person is served beside the upload, or not at all.
    error_log = tmp_path / "error.log"
    with serving(tmp_path, error_log, migrated=True, WEB_TIMEOUT=str(TIMEOUT_SECONDS)) as port:
        yield port, error_log


def _status_line(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(request)
        return connection.recv(4096).split(b"\r\n", 1)[0]


def test_a_slow_upload_is_read_to_its_end_and_others_are_served_meanwhile(
    served: tuple[int, Path],
) -> None:
    port, error_log = served
    # A body of 21 KB that takes ~7 s to arrive (past the 3 s timeout), as a photo does on a
    # slow link. Form-encoded, so that the app reads it all before any view (its NUL check);
    # no CSRF token, so /status answers 400 once it has.
    body = b"what_happened=" + b"x" * 21_000
    head = (
        b"POST /status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    others: list[tuple[float, bytes]] = []

    def someone_else() -> None:
        time.sleep(2)  # while the upload is under way
        started = time.monotonic()
        line = _status_line(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        others.append((time.monotonic() - started, line))

    beside = threading.Thread(target=someone_else)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head)
        beside.start()
        started = time.monotonic()
        for offset in range(0, len(body), 1500):
            connection.sendall(body[offset : offset + 1500])
            time.sleep(0.5)
        assert time.monotonic() - started > 2 * TIMEOUT_SECONDS
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    beside.join(timeout=30)
    # An answer of the app's (the form refused for its missing token), not a dropped
    # connection or gunicorn's "Internal Server Error" after a killed worker.
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"WORKER TIMEOUT" not in error_log.read_bytes()
    assert others, "nobody else was answered"
    seconds, line = others[0]
    assert line.split(b" ")[1] in (b"200", b"503"), line
    assert seconds < 2, f"someone else waited {seconds:.1f} s behind the upload"
