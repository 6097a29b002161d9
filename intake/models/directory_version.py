"""The directory's version: one ``org_settings`` row that changes whenever an entry does, so a
process can keep what it derives from the directory (triage's index) until the version moves.

One place for every writer: a session hook, so that imports, admin edits, ``make_entry`` in the
tests and anything else that writes a :class:`DirectoryEntry` through the unit of work bumps it
in the same transaction. Writers that bypass the unit of work (``sa.update(DirectoryEntry)``,
bulk inserts) call :func:`bump` themselves.

The version is a random token, not a counter: a counter restarts with a fresh database and
goes back with a restored backup, so two different directories could show the same number to
a process that cached the first; two random 128-bit tokens never meet.
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction, scoped_session

from intake.models.directory import DirectoryEntry
from intake.models.system import OrgSetting

KEY = "directory.version"
_CHANGED = "directory_version.changed"
_READ = "directory_version.read"  # session.info: the version this transaction read


def current(session: Session | scoped_session[Any]) -> str | None:
    """The version this transaction sees; None while no entry was ever written through it.

    Read once per transaction: a statement that reads something else first may bring it along
    (:func:`column`, :func:`remember`), which spares the public form a round trip per
    submission."""
    if _READ in session.info:
        remembered: str | None = session.info[_READ]
        return remembered
    return session.scalar(sa.select(OrgSetting.value).where(OrgSetting.key == KEY))


def column() -> sa.ScalarSelect[str | None]:
    """The version as a column another query can select, for :func:`remember`."""
    return sa.select(OrgSetting.value).where(OrgSetting.key == KEY).scalar_subquery()


def remember(session: Session | scoped_session[Any], version: str | None) -> None:
    """The version this transaction read with another query (until the transaction ends)."""
    session.info[_READ] = version


def bump(session: Session | scoped_session[Any]) -> str:
    """A new version, written in the session's transaction (commits with the entries)."""
    token = secrets.token_hex(16)
    session.info[_READ] = token
    table = OrgSetting.__table__
    connection = session.connection()
    updated = connection.execute(sa.update(table).where(table.c.key == KEY).values(value=token))
    if updated.rowcount == 0:
        connection.execute(sa.insert(table).values(key=KEY, value=token))
    return token


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    if any(
        isinstance(obj, DirectoryEntry)
        for changed in (session.new, session.dirty, session.deleted)
        for obj in changed
    ):
        session.info[_CHANGED] = True


@event.listens_for(Session, "after_flush_postexec")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    if session.info.pop(_CHANGED, False):
        bump(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_read(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_READ, None)
