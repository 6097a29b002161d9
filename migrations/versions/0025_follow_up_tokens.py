"""follow-up tokens: a follow-up sent again after its answer was lost is stored once

The status page sends one random token with every attempt at the same follow-up; the first
attempt that is stored claims it in submission_tokens, as the intake form's requests do. A
follow-up has no receipt code to give back, so its row has no sealed_receipt.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 17:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submission_tokens', schema=None) as batch_op:
        batch_op.alter_column('sealed_receipt', existing_type=sa.String(length=128), nullable=True)


def downgrade():
    # Follow-up rows have no receipt to keep: they go (a day's worth at most, only retries).
    op.execute("DELETE FROM submission_tokens WHERE sealed_receipt IS NULL")
    with op.batch_alter_table('submission_tokens', schema=None) as batch_op:
        batch_op.alter_column('sealed_receipt', existing_type=sa.String(length=128), nullable=False)
