"""outbox_delivery_failures: how long a row has been failing, and unacknowledged attempts

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import intake.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reminder_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failing_since', intake.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('unacknowledged', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade():
    with op.batch_alter_table('reminder_outbox', schema=None) as batch_op:
        batch_op.drop_column('unacknowledged')
        batch_op.drop_column('failing_since')
