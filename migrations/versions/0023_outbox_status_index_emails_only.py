"""outbox_status_index_emails_only: the outbox's status index holds e-mails, not batched items

Issue 14. A scan writes thousands of reminder items (one per referral and offset) in one
statement, and each index on the outbox is part of its cost; the items' every change of status
(sent, cancelled with their batch) wrote a new entry too. Only e-mails are found by status:
batches and digests are queued, claimed, retried and counted by it, and the reminders mailed
alone before batches (migration 0014) are e-mails as well. The items a batch carries are read
by their batch (ix_reminder_outbox_batch_id), their referral, or the ungathered index (0019).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 17:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

AN_EMAIL = "kind <> 'reminder' OR batch_id IS NULL"


def upgrade():
    op.drop_index('ix_reminder_outbox_status_queued', table_name='reminder_outbox')
    op.create_index(
        'ix_reminder_outbox_status_queued',
        'reminder_outbox',
        ['status', 'queued_at'],
        postgresql_where=sa.text(AN_EMAIL),
        sqlite_where=sa.text(AN_EMAIL),
    )


def downgrade():
    op.drop_index('ix_reminder_outbox_status_queued', table_name='reminder_outbox')
    op.create_index('ix_reminder_outbox_status_queued', 'reminder_outbox', ['status', 'queued_at'])
