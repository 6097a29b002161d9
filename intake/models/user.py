"""Staff accounts, the organisation keypairs and the key grants that give staff access."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.db import UTCDateTime, utcnow
from intake.extensions import db
from intake.models.enums import Role, enum_column
from intake.models.second_factor import EncryptedTotpSecret


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.VIEWER)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    # Encrypted at rest under TOTP_KEY (intake.models.second_factor); plaintext in Python.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedTotpSecret)
    # Set once the holder typed a current code: until then the secret cannot sign anyone in.
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last TOTP time step accepted: a code for this step or an earlier one is a replay.
    totp_last_step: Mapped[int] = mapped_column(default=0)
    # The staff member's X25519 keypair: public in the clear, secret wrapped in their browser
    # with a key derived (crypto_pwhash, Argon2id) from their password.
    public_key: Mapped[str | None] = mapped_column(sa.String(64))
    wrapped_secret_key: Mapped[str | None] = mapped_column(sa.Text)
    key_salt: Mapped[str | None] = mapped_column(sa.String(64))
    key_ops_limit: Mapped[int | None] = mapped_column()
    key_mem_limit: Mapped[int | None] = mapped_column()
    # How the password is used (DESIGN §3). 2: the browser derives, from crypto_pwhash of the
    # password with ``key_salt``, an authentication secret (all the server receives;
    # ``password_hash`` is an Argon2id hash of it) and a key-wrapping key (never sent).
    # 1: an account from before, whose password was posted; it moves to 2 at its next sign-in.
    password_scheme: Mapped[int] = mapped_column(default=2, server_default="1")
    # 2: the staff secret is wrapped with the derived key-wrapping key; 1: with crypto_pwhash
    # of the password itself (before); keyring.js re-wraps it at the next unlock.
    key_scheme: Mapped[int] = mapped_column(default=2, server_default="1")
    is_active_account: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped by "log out everywhere" and password changes; sessions carry the epoch they saw.
    session_epoch: Mapped[int] = mapped_column(default=0)
    language: Mapped[str | None] = mapped_column(sa.String(10))
    # Overdue referrals are reminded weekly; a caseworker may ask for a reminder every day.
    overdue_reminders_daily: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    grants: Mapped[list[KeyGrant]] = relationship(
        back_populates="user", foreign_keys="KeyGrant.user_id"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.is_active_account

    def get_id(self) -> str:
        # The epoch makes old session cookies stop matching after "log out everywhere".
        return f"{self.id}:{self.session_epoch}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class OrgKey(db.Model):  # type: ignore[name-defined]
    """An organisation X25519 public key. Its secret exists only sealed inside key grants."""

    __tablename__ = "org_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class KeyGrant(db.Model):  # type: ignore[name-defined]
    """The organisation secret key sealed (crypto_box_seal) to one staff member's public key."""

    __tablename__ = "key_grants"
    __table_args__ = (sa.UniqueConstraint("org_key_id", "user_id", name="uq_key_grants_key_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_key_id: Mapped[int] = mapped_column(sa.ForeignKey("org_keys.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    sealed_org_secret: Mapped[str] = mapped_column(sa.Text)
    granted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    org_key: Mapped[OrgKey] = relationship()


class RecoveryKit(db.Model):  # type: ignore[name-defined]
    """An organisation's recovery kit: only its public key (derived in a browser from the
    recovery key, which the server never sees) and copies of the organisation secret keys
    sealed to it. It opens keys; it never signs anyone in."""

    __tablename__ = "recovery_kits"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the admin typed part of the recovery key back: until then nobody may rely on it.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when it was used (a used kit has been typed somewhere: a new one replaces it) or
    # replaced by a newer kit.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    seals: Mapped[list[RecoverySeal]] = relationship(back_populates="kit")


class RecoverySeal(db.Model):  # type: ignore[name-defined]
    """One organisation secret key sealed (crypto_box_seal) to a recovery kit's public key."""

    __tablename__ = "recovery_seals"
    __table_args__ = (
        sa.UniqueConstraint("kit_id", "org_key_id", name="uq_recovery_seals_kit_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_id: Mapped[int] = mapped_column(sa.ForeignKey("recovery_kits.id"), index=True)
    org_key_id: Mapped[int] = mapped_column(sa.ForeignKey("org_keys.id"))
    sealed_org_secret: Mapped[str] = mapped_column(sa.Text)

    kit: Mapped[RecoveryKit] = relationship(back_populates="seals")
