"""No client address in any log or store (issue #15, DESIGN §1.7): not in the limiter's Redis
keys after staff sign-in attempts, not in gunicorn's own logs for a malformed request."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from config.settings import PROJECT_ROOT
from intake.addresses import ADDRESS_KEY_ENV, address_key
from intake.services import accounts
from tests.auth.helpers import csrf_token
from tests.builders import make_user
from tests.gunicorn_process import serving

ADDRESSES = ["203.0.113.77", "2001:db8:1234:5678::abcd"]


@pytest.mark.parametrize("address", ADDRESSES)
def test_staff_sign_in_limiter_keys_hold_no_address(
    make_app: Callable[..., Flask], redis_url: str, address: str
) -> None:
    app = make_app("sqlite", RATELIMIT_STORAGE_URI=redis_url)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        for _ in range(3):
            token = csrf_token(client, "/login")
            client.post(
                "/login", data={"csrf_token": token, "email": user.email, "password": "wrong"}
            )
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("*")]
    assert any("staff:" in key for key in keys), keys  # the limiter did count the attempts
    for key in keys:
        assert address not in key
        assert address.split("::")[0] not in key  # nor the IPv6 network


@pytest.fixture
def gunicorn_logs(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """Real gunicorn (tests.gunicorn_process) logging at debug level; yields the port and the
    error and access log files."""
    error_log, access_log = tmp_path / "error.log", tmp_path / "access.log"
    with serving(
        tmp_path,
        error_log,
        arguments=("--log-level", "debug"),
        GUNICORN_ACCESS_LOG=str(access_log),
        LOG_LEVEL="DEBUG",
    ) as port:
        yield port, error_log, access_log


def _send_from(source: str, port: int, payload: bytes) -> bytes:
    """Send raw bytes from another loopback address, so the client's address differs from
    the address gunicorn listens on and says it listens on."""
    with socket.socket() as connection:
        connection.bind((source, 0))
        connection.settimeout(10)
        connection.connect(("127.0.0.1", port))
        connection.sendall(payload)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


INVITE_TOKEN = "InviteTokenQ7xw9Zr2"


def test_gunicorn_logs_no_client_address(gunicorn_logs: tuple[int, Path, Path]) -> None:
    port, error_log, access_log = gunicorn_logs
    client = "127.0.0.2"
    answer = _send_from(client, port, b"GET / HTTP/1.1 EXTRA\r\nHost: x\r\n\r\n")  # malformed
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    # A static file: answered without the database or the broker, so only logging is tested.
    answer = _send_from(
        client,
        port,
        b"GET /static/css/refuge.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert b" 200 " in answer.split(b"\r\n", 1)[0]
    # An invitation link: its token is a one-time secret and stays out of the access log.
    _send_from(
        client,
        port,
        f"GET /auth/enrol/{INVITE_TOKEN} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
    )
    time.sleep(0.5)  # let the worker flush its log lines
    errors, accesses = error_log.read_text(), access_log.read_text()
    assert "Invalid request" in errors  # gunicorn did log the malformed request…
    assert "/static/css/refuge.css" in accesses  # …and the access log is on
    assert "/auth/enrol/[token]" in accesses
    assert INVITE_TOKEN not in errors + accesses
    for text in (errors, accesses):
        assert client not in text  # …without the client's address
        listening = [line for line in text.splitlines() if "127.0.0.1" in line]
        # The only address left is the one gunicorn listens on, said once at start.
        assert all("Listening at" in line for line in listening), listening


def test_an_error_on_an_invitation_link_logs_its_route_not_its_token(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    def broken(token: str) -> None:
        raise RuntimeError(token)

    monkeypatch.setattr(accounts, "user_for_enrol_token", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR):
        response = client.get(f"/auth/enrol/{INVITE_TOKEN}")
    assert response.status_code == 500
    assert "unhandled RuntimeError on GET /auth/enrol/<token>" in caplog.text
    assert INVITE_TOKEN not in caplog.text


def test_limiter_keys_are_not_hashed_under_the_server_secret(
    make_app: Callable[..., Flask], redis_url: str
) -> None:
    """The secret key is on the server's disk: with it and the limiter's Redis, every IPv4
    address could be hashed in minutes and matched to the keys (a security review)."""
    address = ADDRESSES[0]
    app = make_app("sqlite", RATELIMIT_STORAGE_URI=redis_url)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        token = csrf_token(client, "/login")
        client.post("/login", data={"csrf_token": token, "email": user.email, "password": "x"})
        under_secret = hmac.new(
            str(app.config["SECRET_KEY"]).encode(), address.encode(), hashlib.sha256
        ).hexdigest()[:24]
        under_key = hmac.new(address_key(), address.encode(), hashlib.sha256).hexdigest()[:24]
    keys = " ".join(key.decode() for key in redis.Redis.from_url(redis_url).keys("*"))
    assert under_key in keys  # counted, under the key made at start…
    assert under_secret not in keys  # …not under the secret on disk
    assert address_key() != str(app.config["SECRET_KEY"]).encode()


def test_gunicorns_workers_inherit_one_address_key_made_by_the_master() -> None:
    environment = {k: v for k, v in os.environ.items() if k != ADDRESS_KEY_ENV}
    script = (
        "import os, config.gunicorn; from intake.addresses import address_key;"
        "key = os.environ['REFUGE_ADDRESS_KEY']; pid = os.fork()\n"
        "if pid == 0: os._exit(0 if address_key().decode() == key else 1)\n"
        "print(key, os.waitpid(pid, 0)[1])"
    )
    runs = [
        subprocess.run(  # noqa: S603 — our own interpreter, fixed arguments
            [sys.executable, "-c", script],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for _ in range(2)
    ]
    assert [status for _, status in runs] == ["0", "0"]  # the worker hashes with the master's
    assert len(runs[0][0]) == 64
    assert runs[0][0] != runs[1][0]  # a new key at each start, found nowhere on disk
