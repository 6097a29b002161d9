"""`make run`'s readiness line (scripts/say-when-ready.py): said once the web process answers
/healthz, whether it is healthy yet or not, and not before."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "say-when-ready.py"


def _free_port() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return int(port)


def _serve_healthz(port: int, status: int, seen: list[str]) -> ThreadingHTTPServer:
    class Healthz(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.path)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("status", [200, 503])
def test_the_setup_link_is_said_again_once_the_web_process_answers(status: int) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    script = subprocess.Popen(  # noqa: S603 (our own script)
        [sys.executable, str(SCRIPT), url, "Refuge is ready.", "Set up: /setup/abc"],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    server = None
    try:
        time.sleep(1.5)  # nothing listens yet: the script keeps waiting, silent
        assert script.poll() is None
        server = _serve_healthz(port, status, seen)  # a 503 still means the web process is up
        out, _ = script.communicate(timeout=20)
    finally:
        script.kill()
        if server is not None:
            server.shutdown()
            server.server_close()
    assert script.returncode == 0
    assert seen[:1] == ["/healthz"]
    assert out.strip().splitlines() == ["Refuge is ready.", "Set up: /setup/abc"]
