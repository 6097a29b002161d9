"""Declarative base, naming convention and the UTC datetime type shared by every model."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry

# Stable constraint names, so Alembic batch migrations on SQLite can find and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


# The table options of a table whose ids are named elsewhere (in other rows, audit events,
# URLs): an id freed by a deletion must never be handed out again, or a new case would take
# a purged case's id and what still names it (migration 0034). SQLite gives max(id) + 1 unless
# the table is AUTOINCREMENT; PostgreSQL's sequences never go back. Reflection does not see
# the keyword: a later batch migration that rebuilds one of these tables on SQLite must pass
# ``table_kwargs={"sqlite_autoincrement": True}`` (tests/test_db.py checks the migrated schema;
# migrations/env.py keeps the counter, which the rebuild's DROP would lose).
IDS_NEVER_REUSED: dict[str, Any] = {"sqlite_autoincrement": True}


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes that behave the same on SQLite and PostgreSQL.

    SQLite drops the offset of ``DateTime(timezone=True)`` and hands back naive values, so we
    normalise to UTC on the way in and attach UTC on the way out. Naive input is refused: a
    naive datetime in this code base is a bug, not a local time.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_for_several_processes(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    """The embedded default runs web, worker and beat on one SQLite file: let readers and a
    writer overlap (WAL) and wait for a lock instead of failing at once.

    And enforce foreign keys, which SQLite leaves off on every new connection: without them
    ``ON DELETE CASCADE`` does nothing and a child row can outlive its parent (for a case's
    consent records, until a new case takes the id). Set here, before any transaction, where
    the pragma takes effect; migrations turn it off for their own connection
    (``migrations/env.py``), as Alembic's batch mode needs."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def partial_index(name: str, *columns: str, where: str) -> sa.Index:
    """An index over the rows that meet ``where`` (SQL), on PostgreSQL and SQLite alike."""
    predicate = sa.text(where)
    return sa.Index(name, *columns, postgresql_where=predicate, sqlite_where=predicate)


def like_escape(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (used with ``escape="\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_INT_ARRAY = pg.ARRAY(sa.Integer)


def among_ids(
    column: sa.ColumnElement[Any], postgresql: bool, name: str = "ids"
) -> sa.ColumnElement[bool]:
    """``column IN :name`` for a list of ids (a send task's, a queue page's). On PostgreSQL one
    array parameter (``= ANY``): the statement's text is the same for any count, so psycopg
    prepares it once per process, instead of a parameter per id every time; elsewhere an
    expanding list."""
    if postgresql:
        return column == sa.any_(sa.bindparam(name, type_=_INT_ARRAY))
    return column.in_(sa.bindparam(name, expanding=True))
