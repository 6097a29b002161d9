"""outbox_ungathered_index: the scan finds ungathered reminder items by index

Every scan gathers the pending items not yet in a batch (issue 14). Without this partial
index that lookup reads every pending item, and those pile up while mail is down.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-20 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_UNGATHERED = "kind = 'reminder' AND status = 'pending' AND batch_id IS NULL"


def upgrade():
    op.create_index(
        'ix_reminder_outbox_ungathered',
        'reminder_outbox',
        ['recipient_id', 'id'],
        postgresql_where=sa.text(_UNGATHERED),
        sqlite_where=sa.text(_UNGATHERED),
    )


def downgrade():
    op.drop_index('ix_reminder_outbox_ungathered', table_name='reminder_outbox')
