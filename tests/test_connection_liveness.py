"""Pooled PostgreSQL connections are checked from their socket when taken from the pool
(``intake.hardening.watch_connections``), not with ``pool_pre_ping``'s round trip: a connection
the server ended is replaced before anyone uses it, a live one is kept. The restart of a whole
server is in tests/public/test_database_outage.py."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.hardening import _check_on_checkout, still_connected, watch_connections

pytestmark = pytest.mark.postgres


def _backend_pid() -> int:
    pid = int(db.session.scalar(sa.text("SELECT pg_backend_pid()")) or 0)
    db.session.remove()  # the connection goes back to the pool
    return pid


def _terminate(pid: int) -> None:
    """End a session from another connection, and wait until the server has closed it."""
    # Autocommit: each look at pg_stat_activity a fresh snapshot, not the first one again.
    other = sa.create_engine(
        db.engine.url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    with other.connect() as connection:
        assert connection.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 10
        while connection.scalar(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ):
            assert time.monotonic() < deadline, "the terminated session did not end"
            time.sleep(0.05)
    other.dispose()


def test_the_pool_does_not_ping_on_checkout(pg_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not db.engine.pool._pre_ping  # noqa: SLF001
    pings: list[Any] = []
    original = db.engine.dialect.do_ping

    def counting_ping(connection: Any) -> bool:
        pings.append(connection)
        return original(connection)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counting_ping)
    first = _backend_pid()
    assert _backend_pid() == first  # a live connection is kept
    assert pings == []


def test_a_connection_the_server_ended_is_replaced_before_it_is_used(pg_app: Flask) -> None:
    ended = _backend_pid()
    _terminate(ended)
    # Without the check this statement would meet the dead connection and fail.
    replacement = _backend_pid()
    assert replacement != ended
    assert _backend_pid() == replacement


def test_the_socket_check_tells_an_ended_session_from_a_live_one(pg_app: Flask) -> None:
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        pid = connection.scalar(sa.text("SELECT pg_backend_pid()"))
        connection.rollback()
        assert still_connected(raw)
        _terminate(int(pid or 0))
        assert not still_connected(raw)
        connection.invalidate()


def test_only_engines_without_a_ping_are_watched(pg_app: Flask) -> None:
    assert sa.event.contains(db.engine, "checkout", _check_on_checkout)
    pinging = sa.create_engine(db.engine.url, pool_pre_ping=True)
    watch_connections(pinging)
    assert not sa.event.contains(pinging, "checkout", _check_on_checkout)
    pinging.dispose()
