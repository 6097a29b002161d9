"""Keyed search tokens of sealed cases: what lets a caseworker find a case by a name, a place or
a phone number while the server never sees the words.

The browser of a key holder opens a case, derives a search key from the organisation secret key
and posts keyed hashes (``crypto_generichash`` with that key, 16 bytes, hex) of the case's
normalised words, CJK character bigrams and phone-number digit strings (static/js/search.js).
The server stores only those tokens, under the organisation key they were keyed with, and
matches a query's tokens (keyed the same way in the browser) against them. See the README's
"Search" section for what this leaks.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from intake.db import UTCDateTime, utcnow
from intake.extensions import db


class CaseSearchIndex(db.Model):  # type: ignore[name-defined]
    """That a case was indexed, with which organisation key (so a rotation re-indexes it)."""

    __tablename__ = "case_search_index"

    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    org_key_id: Mapped[int] = mapped_column(sa.ForeignKey("org_keys.id"), index=True)
    token_count: Mapped[int] = mapped_column(default=0)
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseSearchToken(db.Model):  # type: ignore[name-defined]
    __tablename__ = "case_search_tokens"
    __table_args__ = (sa.Index("ix_case_search_tokens_key_token", "org_key_id", "token"),)

    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    org_key_id: Mapped[int] = mapped_column(sa.ForeignKey("org_keys.id"))
