"""closed_cases_unread: a closed case whose submitter wrote again is found by index

The status page tells a submitter of a closed case "You can still send us a message". Such a
message marks the case unread (0027), but "Action needed" holds open cases only, so the queue
now counts closed cases with an unread message on every page, for a notice that links to
them. This partial index holds only those cases: the count reads it and nothing else.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 23:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

CLOSED_UNREAD = sa.text("status = 'closed' AND unread_follow_up_at IS NOT NULL")


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(
            'ix_cases_closed_unread', ['id'], unique=False,
            postgresql_where=CLOSED_UNREAD, sqlite_where=CLOSED_UNREAD,
        )


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_closed_unread', sqlite_where=CLOSED_UNREAD)
