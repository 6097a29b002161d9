"""A submission token already used: a retry of the same request gets the same receipt."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from intake.db import UTCDateTime, utcnow
from intake.extensions import db


class SubmissionToken(db.Model):  # type: ignore[name-defined]
    """One request filed with a submission token (``services.submissions``).

    The intake form sends one random token with every attempt at the same request, so that a
    request whose answer was lost (Tor, a mobile network) and is sent again is filed once.
    Neither the token nor the receipt code is here: ``lookup`` is an HMAC of the token under
    the server secret, and ``sealed_receipt`` the receipt code encrypted under a key derived
    from the token (``crypto.seal_receipt_for_token``), which only a retry brings back.
    Nothing links the row to its case. Rows go after a day (``services.retention``).
    """

    __tablename__ = "submission_tokens"

    lookup: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    sealed_receipt: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
