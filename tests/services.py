"""Finding the real services the tests use, and what to do when one is missing.

With ``CI=true`` a missing PostgreSQL, Redis or Chromium fails the test loudly (CI must prove
the integration and browser tests ran); elsewhere the test is skipped with one line saying why.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
POSTGRES_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/refuge_test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@functools.cache
def postgres_problem() -> str | None:
    url = sa.make_url(POSTGRES_URL)
    if not _port_open(url.host or "127.0.0.1", url.port or 5432):
        return f"PostgreSQL is not reachable at {url.host}:{url.port or 5432}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": url.database},
            )
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    except sa.exc.SQLAlchemyError as exc:
        return f"PostgreSQL refused the test database: {type(exc).__name__}"
    finally:
        admin.dispose()
    return None


@functools.cache
def redis_problem() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {REDIS_URL}: {type(exc).__name__}"
    return None


@functools.cache
def chromium_problem() -> str | None:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return f"Chromium is not installed at {CHROMIUM} (Debian package `chromium`)"
    return None


def require_postgres() -> str:
    problem = postgres_problem()
    if problem:
        unavailable(problem)
    return POSTGRES_URL


def require_redis() -> str:
    problem = redis_problem()
    if problem:
        unavailable(problem)
    return REDIS_URL


def require_chromium() -> str:
    problem = chromium_problem()
    if problem:
        unavailable(problem)
    return CHROMIUM


def empty_database() -> None:
    """Drop everything in the current app's database. On PostgreSQL the whole public schema
    goes, so that tables another branch or an older run left behind (which ``drop_all`` does
    not know, and whose foreign keys block it) cannot break a test; elsewhere every known table
    and Alembic's version table."""
    from intake.extensions import db

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        return
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
