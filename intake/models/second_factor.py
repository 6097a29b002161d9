"""Second factors beside the TOTP secret: one-time recovery codes and passkeys (WebAuthn), and
the column type that keeps TOTP secrets encrypted at rest.

The TOTP secret is encrypted with a key derived from ``TOTP_KEY`` (else ``SECRET_KEY``), which
is not in the database: a stolen database or backup does not give anyone the codes. Python code
sees the plaintext (``user.totp_secret``); only the ciphertext is ever written.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from intake import crypto
from intake.db import IDS_NEVER_REUSED, UTCDateTime, utcnow
from intake.extensions import db

TOTP_KEY_PURPOSE = "refuge-totp-secret-v1"
RECOVERY_KEY_PURPOSE = "refuge-recovery-code-v1"
log = logging.getLogger(__name__)


def configured_totp_key() -> str:
    return str(current_app.config.get("TOTP_KEY") or current_app.config["SECRET_KEY"])


def totp_at_rest_key() -> bytes:
    return crypto.at_rest_key(configured_totp_key(), TOTP_KEY_PURPOSE)


def recovery_code_key() -> bytes:
    return crypto.at_rest_key(configured_totp_key(), RECOVERY_KEY_PURPOSE)


class EncryptedTotpSecret(sa.types.TypeDecorator[str]):
    """A TOTP secret: sealed on write; opened on read. A secret written before encryption
    (plain base32, migration 0008 seals those) still reads; one sealed under another key reads
    as no secret (the account's second factor must be reset), never as a crash."""

    impl = sa.String(255)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or crypto.is_sealed_at_rest(value):
            return value
        return crypto.seal_at_rest(value, totp_at_rest_key())

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or not crypto.is_sealed_at_rest(value):
            return value
        try:
            return crypto.open_at_rest(value, totp_at_rest_key())
        except crypto.InvalidCiphertext:
            log.warning(
                "a TOTP secret does not open: TOTP_KEY (or SECRET_KEY, from which it is "
                "derived when TOTP_KEY is unset) is not the one it was sealed under: set it "
                "back to the old value"
            )
            return None


class RecoveryCode(db.Model):  # type: ignore[name-defined]
    """One of ten one-time codes for the second step, kept only as a keyed hash."""

    __tablename__ = "recovery_codes"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_user_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Passkey(db.Model):  # type: ignore[name-defined]
    """A WebAuthn credential (passkey or security key) registered as a second factor."""

    __tablename__ = "passkeys"
    # Its id is in its "Remove" button and the audit log: never given to another (0036).
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    # base64url, as the browser names it; unique across accounts (the spec's advice).
    credential_id: Mapped[str] = mapped_column(sa.String(1400), unique=True)
    public_key: Mapped[str] = mapped_column(sa.Text)  # COSE key, base64url
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
