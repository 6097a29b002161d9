"""Submission tokens: something sent again after its answer was lost is stored once.

The submitter's pages send one random token with every attempt at the same thing: the intake
form one per filled form, the follow-up at /status one per written message. The first attempt
that is stored claims the token here, first thing in its own transaction; an attempt that finds
the token claimed stores nothing and answers as the first one did.

A ``SubmissionToken`` row holds only a keyed hash of the token (``lookup``: a request's from
``crypto.submission_token_lookup``, a follow-up's from ``crypto.follow_up_token_lookup``, which
also binds it to its case) and, for a request, the receipt code encrypted under a key derived
from the token (``sealed_receipt``), so that the retry gets the same receipt. A follow-up has
nothing to give back but "sent": its row has no ``sealed_receipt``. Rows go after a day.
"""

from __future__ import annotations

import enum
import functools
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import SubmissionToken

TTL = timedelta(hours=24)


class Claim(enum.Enum):
    NEW = "new"  # ours now: store what the attempt carries
    SEEN = "seen"  # an earlier attempt stored it (or is storing it and committed meanwhile)


# A request's token is looked up within the path that made it. Without JavaScript the token is
# a hidden field, written again into the next form in that browser (so that Back and Send file
# nothing twice), and the path's token is the form's token with a digest of its answers
# (public.routes._server_sealed_token): only the same answers get the first receipt back. The
# browser path cannot do that (answers are sealed afresh on each attempt):
# had it shared the lookup, whoever used that browser next could post any ciphertext with the
# token and be given the first person's receipt code (a security review).
SERVER_SEALED_CONTEXT = b"sealed-on-the-server:"


def request_lookup(raw_token: bytes, *, sealed_on_server: bool = False) -> str:
    token = SERVER_SEALED_CONTEXT + raw_token if sealed_on_server else raw_token
    return crypto.submission_token_lookup(token, current_app.config["SECRET_KEY"])


def follow_up_lookup(raw_token: bytes, case_id: int) -> str:
    return crypto.follow_up_token_lookup(raw_token, case_id, current_app.config["SECRET_KEY"])


def claim(lookup: str, sealed_receipt: str | None = None) -> Claim:
    """Claim the token whose keyed hash is ``lookup``, in the caller's transaction (before it
    stores anything, so that a failure rolls the claim back with the rest).

    ``INSERT … ON CONFLICT DO NOTHING``: on PostgreSQL a second attempt with the same token
    waits on the first one's uncommitted row and inserts nothing once it commits (or claims
    the token if it rolled back), so two attempts at once store one thing."""
    db.session.flush()  # what the session holds goes first, as an autoflush would send it
    claimed = (
        db.session.connection()
        .execute(
            _claim_statement(db.session.get_bind().dialect.name),
            {"lookup": lookup, "sealed_receipt": sealed_receipt, "created_at": utcnow()},
        )
        .scalar()
    )
    return Claim.NEW if claimed is not None else Claim.SEEN


def sealed_receipt(lookup: str) -> str | None:
    """What the request that claimed the token first keeps for its retries (None if the row
    has gone, or holds none). A new statement: under READ COMMITTED it sees the row the other
    attempt committed."""
    return db.session.scalar(
        sa.select(SubmissionToken.sealed_receipt).where(SubmissionToken.lookup == lookup)
    )


@functools.cache
def _claim_statement(dialect: str) -> Any:
    """The claim's INSERT, built once per dialect with bound parameters (Core, on the
    session's connection: no ORM work per submission)."""
    table = SubmissionToken.__table__
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .values({column.name: sa.bindparam(column.name, type_=column.type) for column in table.c})
        .on_conflict_do_nothing(index_elements=[table.c.lookup])
        .returning(table.c.lookup)
    )


def claim_cte() -> Any:
    """:func:`claim`'s INSERT as a CTE (``claimed_token``) for a statement that claims the token
    and stores what it carries in one round trip (``submissions``); bound parameters
    ``token_lookup``, ``token_sealed_receipt`` and ``token_at``; PostgreSQL."""
    table = SubmissionToken.__table__
    return (
        postgresql.insert(table)
        .values(
            lookup=sa.bindparam("token_lookup", type_=table.c.lookup.type),
            sealed_receipt=sa.bindparam("token_sealed_receipt", type_=table.c.sealed_receipt.type),
            created_at=sa.bindparam("token_at", type_=table.c.created_at.type),
        )
        .on_conflict_do_nothing(index_elements=[table.c.lookup])
        .returning(table.c.lookup)
        .cte("claimed_token")
    )


def purge_expired(now: datetime | None = None) -> int:
    """Forget tokens older than a day (the nightly job); returns how many. A retry comes within
    minutes, not days."""
    cutoff = (now or utcnow()) - TTL
    result = db.session.execute(
        sa.delete(SubmissionToken).where(SubmissionToken.created_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)
