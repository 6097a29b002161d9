"""A submission token already used: a retry of the same request gets the same receipt, a retry
of the same follow-up stores nothing again."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from intake.db import UTCDateTime, utcnow
from intake.extensions import db


class SubmissionToken(db.Model):  # type: ignore[name-defined]
    """One request or follow-up stored with a submission token (``services.submission_tokens``).

    The intake form sends one random token with every attempt at the same request, and the
    status page one with every attempt at the same follow-up, so that what was sent again
    after its answer was lost (Tor, a mobile network) is stored once. Neither the token nor
    the receipt code is here: ``lookup`` is an HMAC of the token under the server secret (a
    follow-up's with its case id), and for a request ``sealed_receipt`` is the receipt code
    encrypted under a key derived from the token (``crypto.seal_receipt_for_token``), which
    only a retry brings back; a follow-up's row has none. Nothing links the row to its case.
    Rows go after a day (``services.retention``).
    """

    __tablename__ = "submission_tokens"

    lookup: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    sealed_receipt: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
