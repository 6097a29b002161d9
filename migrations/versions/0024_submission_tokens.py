"""submission_tokens: a request sent again after its answer was lost is filed once

The intake form sends one random token with every attempt at the same request; the first
attempt that is stored claims it here, in the transaction that inserts the case. Only an HMAC
of the token (the look-up) and the receipt code encrypted under a key derived from the token
are kept, for a day.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import intake.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'submission_tokens',
        sa.Column('lookup', sa.String(length=64), nullable=False),
        sa.Column('sealed_receipt', sa.String(length=128), nullable=False),
        sa.Column('created_at', intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('lookup', name=op.f('pk_submission_tokens')),
    )
    op.create_index(
        op.f('ix_submission_tokens_created_at'), 'submission_tokens', ['created_at'], unique=False
    )


def downgrade():
    op.drop_index(op.f('ix_submission_tokens_created_at'), table_name='submission_tokens')
    op.drop_table('submission_tokens')
