"""referrals_awaiting_due: /referrals reads a page of running referrals off an index

The list's views (action, overdue, due soon, awaiting, timeline) hold the running referrals
(draft, sent, acknowledged) nearest deadline first. At 100,000 demo cases (157,000 referrals)
each page sorted all 81,000 running referrals on disk (~100 ms). This partial index holds them
in the list's order (due date, nulls last, then id).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 21:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

AWAITING = sa.text("state IN ('draft', 'sent', 'acknowledged')")


def upgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(
            'ix_referrals_awaiting_due', ['due_at', 'id'], unique=False,
            postgresql_where=AWAITING, sqlite_where=AWAITING,
        )


def downgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('ix_referrals_awaiting_due', sqlite_where=AWAITING)
