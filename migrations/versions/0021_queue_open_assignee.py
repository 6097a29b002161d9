"""queue_open_assignee: an index over open cases by assignee, in the queue's order

Issue 14. "Mine", "unassigned" and the assignee filter (their pages and their bounded tab
counts) walk this index from the assignee's first open case and stop at the page or the cap,
instead of reading every case a colleague ever held, closed ones included.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 01:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

OPEN = sa.text("status <> 'closed'")


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(
            'ix_cases_open_assignee',
            ['assignee_id', 'urgency_rank', 'next_due', 'received_at', 'id'],
            unique=False, postgresql_where=OPEN, sqlite_where=OPEN,
        )


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_open_assignee', sqlite_where=OPEN)
