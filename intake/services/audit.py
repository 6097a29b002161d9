"""The audit log: every read and write of a case, sign-ins, key grants, admin actions.

Each event's hash is an HMAC (key outside the database) over its fields and the previous
event's hash, so editing or deleting a row breaks the chain from there on
(:func:`verify_chain`), and recomputing the hashes needs the key. ``record`` adds the event
to the current session: it commits with the change it describes, or not at all.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import current_app
from psycopg.types.json import Json
from sqlalchemy import event as orm_events
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditChainHead, AuditEvent, User
from intake.services import transactions

GENESIS = "0" * 64
# What an event's hash covers, and what is stored.
_HASHED_COLUMNS = (
    "at", "actor_id", "actor_label", "action", "target_type", "target_id", "detail",
    "prev_hash",
)  # fmt: skip
_EVENT_COLUMNS = (*_HASHED_COLUMNS, "hash")


def _chain_key() -> bytes:
    """The HMAC key of the chain, kept outside the database (AUDIT_KEY, else derived from
    SECRET_KEY): someone who can edit the table cannot recompute valid hashes after an edit."""
    configured = current_app.config.get("AUDIT_KEY") or current_app.config["SECRET_KEY"]
    return _chain_key_of(str(configured))


@functools.lru_cache(maxsize=8)
def _chain_key_of(configured: str) -> bytes:
    """Derived once per configured key, not for every event."""
    return hashlib.sha256(b"refuge-audit-chain:" + configured.encode()).digest()


def _canonical(fields: dict[str, Any]) -> str:
    """The canonical text of an event's fields (those of :func:`event_body`)."""
    return json.dumps({**fields, "at": fields["at"].isoformat()}, sort_keys=True, ensure_ascii=True)


def event_body(event: AuditEvent) -> str:
    """The canonical text of an event that its hash covers."""
    return _canonical({name: getattr(event, name) for name in _HASHED_COLUMNS})


def _hmac_of(body: str, key: bytes) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def event_hash(event: AuditEvent) -> str:
    """The HMAC an event must carry, under this installation's chain key."""
    return _hmac_of(event_body(event), _chain_key())


_event_hash = event_hash


_HEAD = "audit.chain_head"  # session.info: the head this transaction holds the lock of


def head_lock() -> sa.Update:
    """Lock the chain head row and read the head, in one statement; the lock is held until
    the transaction ends, so appends take turns and ids follow the chain. Returns the head and
    whether its event still exists (``present``); another statement may carry it as a CTE
    (then :func:`continue_from` takes what it returned).

    The stored head is trusted only while its event still exists (a hash is unique): after
    events were cut off the end, the writer links to what is left, as it always did, and the
    anchor reports the truncation. Right after waiting for another writer's lock, that check
    runs in the statement's older snapshot, which cannot see the event the other writer just
    committed; but the head it returns is then not the head of that snapshot, and a head is
    only ever moved in the transaction that appends its event (:func:`record_all`,
    :func:`_write_head`): a head that moved while this statement waited is present. (Before,
    the fallback read the newest event in one more round trip, with the lock held: under
    concurrent submissions, on most of them.)"""
    head_table = AuditChainHead.__table__
    return (
        sa.update(head_table)
        .where(head_table.c.id == 1)
        .values(hash=head_table.c.hash)
        .returning(
            head_table.c.hash,
            # Spelled out: RETURNING renders columns unqualified, which inside a subquery
            # would name the events' own column.
            sa.literal_column(
                "EXISTS (SELECT 1 FROM audit_events AS e WHERE e.hash = audit_chain_head.hash)"
                " OR audit_chain_head.hash IS DISTINCT FROM"
                " (SELECT seen.hash FROM audit_chain_head AS seen WHERE seen.id = 1)"
            ).label("present"),
        )
    )


def _locked_head() -> str:
    """The head, locked by :func:`head_lock` (seeding the row once on a schema made by
    create_all)."""
    row = db.session.execute(head_lock()).first()
    if row is None:  # a schema made by create_all: seed the row once, then lock it
        db.session.execute(_seed_head())
        row = db.session.execute(head_lock()).first()
    return _head_of(row)


def _head_of(row: Any) -> str:
    if row is not None and row[1]:
        return str(row[0])
    return _newest_event_hash()


def _newest_event_hash() -> str:
    """What the chain continues from when the stored head's event is gone (truncation)."""
    newest = db.session.scalar(sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return newest or GENESIS


def continue_from(hash_: str | None, present: bool | None) -> None:
    """The head as another statement locked and read it with :func:`head_lock` (None: it
    found no head row): the next :func:`record_all` or :func:`record` links to it."""
    previous = _locked_head() if hash_ is None else _head_of((hash_, present))
    db.session.info[_HEAD] = (previous, False)


def _seed_head() -> sa.Insert:
    table = AuditChainHead.__table__
    newest = sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1).scalar_subquery()
    dialect = db.session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    seeded = insert(table).values(id=1, hash=sa.func.coalesce(newest, GENESIS))
    return seeded.on_conflict_do_nothing()


def _write_head(session: Session) -> None:
    head = session.info.get(_HEAD)
    if head is not None and head[1]:
        session.execute(
            sa.update(AuditChainHead.__table__)
            .where(AuditChainHead.__table__.c.id == 1)
            .values(hash=head[0])
        )
        session.info[_HEAD] = (head[0], False)


@orm_events.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    _write_head(session)


@orm_events.listens_for(Session, "after_transaction_end")
def _forget_head(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_HEAD, None)


def record(
    action: str,
    target_type: str,
    target_id: str | int,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event (never case content: ids, states and counts only)."""
    held = db.session.info.get(_HEAD)
    previous = held[0] if held is not None else _locked_head()
    label = actor_label or (f"user:{actor.email}" if actor is not None else "system")
    event = AuditEvent(
        at=utcnow().replace(microsecond=0),
        actor_id=actor.id if actor is not None else None,
        actor_label=label,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        detail=detail or {},
        prev_hash=previous,
    )
    event.hash = _event_hash(event)
    # The new head is written once, when the transaction commits (before_commit).
    db.session.info[_HEAD] = (event.hash, True)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass(frozen=True)
class Entry:
    """An event to append with :func:`record_all` (the same fields :func:`record` takes)."""

    action: str
    target_type: str
    target_id: str | int
    actor_label: str
    detail: dict[str, Any] = field(default_factory=dict)
    actor_id: int | None = None


def record_all(entries: Sequence[Entry], *, commit: bool = False) -> None:
    """Append several events as the last writes of a transaction, in one statement.

    :func:`record` takes the chain head's lock at the first event, and every statement after
    it waits for the commit while holding that lock: the whole rest of the transaction
    serialises every audited write. A service that knows its events once its own writes are
    done calls this instead, right before it commits: the head is locked, the events are
    chained in Python (the HMAC key never reaches the database) and inserted together with
    the new head, so the lock is held for that statement and the commit only. Ids still
    follow the chain: they are drawn after the lock, as with :func:`record`.

    ``commit``: the caller's transaction ends with these events, nothing comes after them
    (the public form's submission, whose view is the outermost transaction). On PostgreSQL
    the events, the new head and the COMMIT then go to the server in one message
    (:func:`_append_and_commit`): the head's lock, which every audited write waits for, is
    held for one round trip instead of two. The caller's own commit then finds nothing to do.
    Anything the session still holds is flushed first, into the transaction."""
    if not entries:
        return
    if commit:
        db.session.flush()
    held = db.session.info.get(_HEAD)
    previous = held[0] if held is not None else _locked_head()
    at = utcnow().replace(microsecond=0)
    key = _chain_key()
    values: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        # The fields as plain values, hashed as event_body would hash the stored row (no ORM
        # object is needed to insert them as text).
        fields: dict[str, Any] = {
            "at": at,
            "actor_id": entry.actor_id,
            "actor_label": entry.actor_label,
            "action": entry.action,
            "target_type": entry.target_type,
            "target_id": str(entry.target_id),
            "detail": entry.detail,
            "prev_hash": previous,
        }
        previous = _hmac_of(_canonical(fields), key)
        fields["hash"] = previous
        values.update({f"{column}_{index}": fields[column] for column in _EVENT_COLUMNS})
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    if postgresql and commit:
        _append_and_commit(len(entries), values)
    else:
        db.session.execute(_append_statement(len(entries), with_head=postgresql), values)
    db.session.info[_HEAD] = (previous, not postgresql)  # else before_commit writes it


def record_listing(action: str, viewer: User, detail: dict[str, Any]) -> None:
    """A staff listing's read ("case.list", "referral.list": what it showed, never what was
    searched), as its transaction's last write: the chain head's lock is held for that one
    statement and the commit; when the listing is the whole transaction, the event, the head
    and the COMMIT go in one message (one round trip less per page view)."""
    record_all(
        [
            Entry(
                action,
                "case",
                "*",
                actor_label=f"user:{viewer.email}",
                actor_id=viewer.id,
                detail=detail,
            )
        ],
        commit=transactions.outermost(),
    )


def _append_and_commit(count: int, values: dict[str, Any]) -> None:
    """The events, the new head and ``COMMIT`` in one simple-protocol message on the
    session's own connection: one round trip where a statement and then the commit are two.

    The simple protocol carries several statements but no parameters, so psycopg's client-side
    cursor binds the values, quoted by libpq's escaping (they are hashes, labels, ids and
    counts the server made: never anything a person typed). Errors come back as SQLAlchemy's,
    as from any statement; on one, nothing was committed and the caller rolls back."""
    sql = _append_and_commit_sql(count)
    params = {
        name: Json(value) if name.startswith("detail_") else value for name, value in values.items()
    }
    driver = db.session.connection().connection.driver_connection
    if not isinstance(driver, psycopg.Connection):  # pragma: no cover — the URL names psycopg
        raise TypeError("PostgreSQL is used through psycopg 3")
    try:
        with psycopg.ClientCursor(driver) as cursor:
            cursor.execute(sql, params)
    except psycopg.Error as error:
        raise sa_exc.DBAPIError.instance(
            sql, params, error, psycopg.Error, hide_parameters=True
        ) from error


@functools.cache
def _append_and_commit_sql(count: int) -> str:
    """:func:`_append_statement`'s PostgreSQL form with psycopg's placeholders, then COMMIT."""
    rows = ", ".join(
        "(" + ", ".join(f"%({column}_{index})s" for column in _EVENT_COLUMNS) + ")"
        for index in range(count)
    )
    # Only column names and parameter names of our own, never a value: no injection.
    return (
        f"WITH appended AS (INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)}) "  # noqa: S608
        f"VALUES {rows}) UPDATE audit_chain_head SET hash = %(hash_{count - 1})s WHERE id = 1; "
        "COMMIT"
    )


@functools.cache
def _append_statement(count: int, *, with_head: bool) -> sa.TextClause:
    """``count`` events in one INSERT, with bound parameters ``<column>_<index>``. On
    PostgreSQL the same statement moves the head to ``hash_<count - 1>`` (a data-modifying
    CTE: one round trip).

    Written out as text, built once per count: SQLAlchemy does not cache the compiled form of
    a multi-row INSERT inside a CTE, and compiling it cost more than the round trip it saves."""
    events = AuditEvent.__table__
    rows = ", ".join(
        "(" + ", ".join(f":{column}_{index}" for column in _EVENT_COLUMNS) + ")"
        for index in range(count)
    )
    # Only column names and parameter names of our own, never a value: no injection.
    sql = f"INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)}) VALUES {rows}"  # noqa: S608
    if with_head:
        sql = (
            f"WITH appended AS ({sql}) "  # noqa: S608
            f"UPDATE audit_chain_head SET hash = :hash_{count - 1} WHERE id = 1"
        )
    return sa.text(sql).bindparams(
        *(
            sa.bindparam(f"{column}_{index}", type_=events.c[column].type)
            for index in range(count)
            for column in _EVENT_COLUMNS
        )
    )


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    # The newest hash: write it down elsewhere now and then, and a later check can tell that
    # events were cut off the end (which no chain can show by itself).
    head: str | None = None


def verify_chain() -> ChainCheck:
    """Walk the log in order; report the first event whose hash or link does not match."""
    expected_prev = GENESIS
    checked = 0
    for event in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).yield_per(500):
        if event.prev_hash != expected_prev or _event_hash(event) != event.hash:
            return ChainCheck(ok=False, checked=checked, first_bad_id=event.id)
        expected_prev = event.hash
        checked += 1
    return ChainCheck(ok=True, checked=checked, head=expected_prev if checked else None)
