"""queue_sorts_by_attention: the queue's deadline sorts read attention_at, not next_due

The "Due" column and the overdue / this-week views already read attention_at (the earlier of a
new case's first-response deadline and its nearest referral clock); the two deadline sorts read
next_due (referral clocks only), so a new Immediate request sorted after cases due next year.
The sorts now order by attention_at, and their partial indexes follow, so that the first page of
each is still a walk of an index that stops after 25 rows.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

OPEN = sa.text("status <> 'closed'")
# Each index's columns, with {deadline} for the deadline column the queue sorts on.
INDEXES = {
    'ix_cases_open_priority': ['urgency_rank', '{deadline}', 'received_at', 'id'],
    'ix_cases_open_deadline': ['{deadline}', 'received_at', 'id'],
    'ix_cases_open_assignee': ['assignee_id', 'urgency_rank', '{deadline}', 'received_at', 'id'],
}


def _rebuild(deadline):
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name, sqlite_where=OPEN)
            batch_op.create_index(
                name, [column.format(deadline=deadline) for column in columns],
                unique=False, postgresql_where=OPEN, sqlite_where=OPEN,
            )


def upgrade():
    _rebuild('attention_at')


def downgrade():
    _rebuild('next_due')
