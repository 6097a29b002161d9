"""unread follow-ups: a case remembers that its submitter wrote and no caseworker has seen it

``cases.unread_follow_up_at`` is set in the transaction that stores a submitter's follow-up
(the first one not yet seen) and cleared when a caseworker opens the case page. The queue
shows such a case with "New message from the submitter" under "Action needed". Nullable and
NULL for every existing case: nothing to backfill.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 19:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

import intake.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = '0027'
# 0026 (queue indexes) is written at the same time; the lead chains the two when merging.
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unread_follow_up_at', intake.db.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('unread_follow_up_at')
