"""Behind a reverse proxy without TRUST_PROXY every defender shares the proxy's rate limits:
the log says so once, without any address."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask

FORWARDED = {"X-Forwarded-For": "203.0.113.7"}


def _proxy_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "TRUST_PROXY" in r.getMessage()]


def test_a_forwarded_request_without_trust_proxy_is_said_once_without_the_address(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app("sqlite")
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        client.get("/")
        assert _proxy_warnings(caplog) == []  # no proxy, no hint
        for _ in range(3):
            client.get("/", headers=FORWARDED)
    assert len(_proxy_warnings(caplog)) == 1
    assert "TRUST_PROXY=1" in _proxy_warnings(caplog)[0]
    assert "203.0.113.7" not in caplog.text


def test_no_hint_when_the_proxy_is_trusted(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app("sqlite", TRUST_PROXY=True)
    with caplog.at_level(logging.WARNING):
        app.test_client().get("/", headers=FORWARDED)
    assert _proxy_warnings(caplog) == []
