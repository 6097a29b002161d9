"""Serialising a check-then-write across concurrent transactions.

Rules such as "never remove the last holder of an organisation key" count first and write
after; two admins acting at once could both pass the count. On PostgreSQL a transaction-scoped
advisory lock makes such sections take turns (released at commit or rollback). SQLite allows
one writer at a time already.
"""

from __future__ import annotations

import sqlalchemy as sa

from intake.extensions import db

KEY_CUSTODY = 0x5245464B  # "REFK": granting, revoking, resetting or deactivating key holders


def serialise(lock_id: int) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_id)))
