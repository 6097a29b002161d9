"""credential scheme per account (password split in the browser) and recovery kits

Existing accounts are scheme 1 (password posted, key wrapped with crypto_pwhash of it); they
move to scheme 2 at their next sign-in and unlock, in the browser.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

import intake.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("password_scheme", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("key_scheme", sa.Integer(), nullable=False, server_default="1")
        )
    op.create_table(
        "recovery_kits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_recovery_kits_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_kits")),
        sa.UniqueConstraint("public_key", name=op.f("uq_recovery_kits_public_key")),
    )
    op.create_table(
        "recovery_seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kit_id", sa.Integer(), nullable=False),
        sa.Column("org_key_id", sa.Integer(), nullable=False),
        sa.Column("sealed_org_secret", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kit_id"], ["recovery_kits.id"], name=op.f("fk_recovery_seals_kit_id_recovery_kits")
        ),
        sa.ForeignKeyConstraint(
            ["org_key_id"], ["org_keys.id"], name=op.f("fk_recovery_seals_org_key_id_org_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_seals")),
        sa.UniqueConstraint("kit_id", "org_key_id", name="uq_recovery_seals_kit_key"),
    )
    with op.batch_alter_table("recovery_seals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_seals_kit_id"), ["kit_id"], unique=False)


def downgrade():
    with op.batch_alter_table("recovery_seals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_seals_kit_id"))
    op.drop_table("recovery_seals")
    op.drop_table("recovery_kits")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("key_scheme")
        batch_op.drop_column("password_scheme")
