"""reminder_batches: one e-mail per recipient per scan, and weekly overdue reminders

Reminder rows stay one per referral and offset (exactly once per item); a ``batch`` row per
recipient carries them in one e-mail. Caseworkers may ask for daily overdue reminders.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reminder_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_reminder_outbox_batch_id'), ['batch_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_reminder_outbox_batch_id_reminder_outbox'),
            'reminder_outbox',
            ['batch_id'],
            ['id'],
            ondelete='SET NULL',
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'overdue_reminders_daily', sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('overdue_reminders_daily')
    with op.batch_alter_table('reminder_outbox', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_reminder_outbox_batch_id_reminder_outbox'), type_='foreignkey'
        )
        batch_op.drop_index(batch_op.f('ix_reminder_outbox_batch_id'))
        batch_op.drop_column('batch_id')
