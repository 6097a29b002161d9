"""cases_sorted_by_index: the "All" tab's sorts and "Recently updated" read off indexes

The queue's priority and deadline sorts had indexes over open cases only (0020, 0026), so the
"All" tab (closed cases included) sorted every case per page, and "Recently updated" did on
every tab: at 100,000 demo cases ~100-260 ms a page. These indexes hold every case in those
orders. The received-time index carries the id after it, as the "Newest" and "Oldest" sorts
break ties, so those read it without sorting each received time's cases.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 22:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(
            'ix_cases_priority', ['urgency_rank', 'attention_at', 'received_at', 'id'],
            unique=False,
        )
        batch_op.create_index(
            'ix_cases_deadline', ['attention_at', 'received_at', 'id'], unique=False
        )
        batch_op.create_index('ix_cases_updated', ['updated_at', 'id'], unique=False)
        batch_op.create_index('ix_cases_received', ['received_at', 'id'], unique=False)
        batch_op.drop_index('ix_cases_received_at')


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_received_at', ['received_at'], unique=False)
        batch_op.drop_index('ix_cases_received')
        batch_op.drop_index('ix_cases_updated')
        batch_op.drop_index('ix_cases_deadline')
        batch_op.drop_index('ix_cases_priority')
