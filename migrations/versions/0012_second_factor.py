"""second_factor: TOTP confirmation, TOTP secrets encrypted at rest, recovery codes, passkeys

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00.000000

Existing TOTP secrets were enrolled (and used) before confirmation existed: they count as
confirmed. Plain secrets are sealed here under TOTP_KEY (else SECRET_KEY) of the app running
the migration; the app reads a plain one too, so an interrupted upgrade locks nobody out.
"""

from alembic import op
import sqlalchemy as sa

import intake.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "totp_secret", existing_type=sa.String(length=64), type_=sa.String(length=255)
        )
        batch_op.add_column(
            sa.Column("totp_confirmed_at", intake.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recovery_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_user_hash"),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)
    op.create_table(
        "passkeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_passkeys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkeys_credential_id")),
    )
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passkeys_user_id"), ["user_id"], unique=False)
    seal_plain_totp_secrets(op.get_bind())


def seal_plain_totp_secrets(connection) -> int:
    """Seal every plain TOTP secret and mark it confirmed; returns how many."""
    from intake import crypto
    from intake.db import utcnow
    from intake.models.second_factor import totp_at_rest_key

    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("totp_secret", sa.String),
        sa.column("totp_confirmed_at", intake.db.UTCDateTime(timezone=True)),
    )
    rows = connection.execute(
        sa.select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.is_not(None))
    ).all()
    if not rows:
        return 0
    key = totp_at_rest_key()
    sealed = 0
    for user_id, secret in rows:
        values = {"totp_confirmed_at": utcnow()}
        if not crypto.is_sealed_at_rest(secret):
            values["totp_secret"] = crypto.seal_at_rest(secret, key)
            sealed += 1
        connection.execute(sa.update(users).where(users.c.id == user_id).values(**values))
    return sealed


def downgrade():
    # Secrets stay sealed: a downgraded app cannot read them; reset second factors after it.
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passkeys_user_id"))
    op.drop_table("passkeys")
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_confirmed_at")
        batch_op.alter_column(
            "totp_secret", existing_type=sa.String(length=255), type_=sa.String(length=64)
        )
