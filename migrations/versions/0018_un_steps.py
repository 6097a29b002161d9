"""un_steps: the dated steps of a referral to a UN mechanism, and the clock generation

Issue 12: the government's 60 days run from the mandate's communication, not from the
submission; each step (submitted, acknowledged, communication sent, reply, published …) is a
row. ``referrals.clock_generation`` keeps reminders of a new clock apart from the old one's.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-12 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import intake.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0016'
branch_labels = None
depends_on = None


def _enum(name, values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('clock_generation', sa.Integer(), nullable=False, server_default='0')
        )
    op.create_table(
        'un_steps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('referral_id', sa.Integer(), nullable=False),
        sa.Column('kind', _enum('unstepkind', [
            'submitted', 'acknowledged', 'not_acknowledged', 'second_message', 'facts_update',
            'communication_sent', 'opinion_adopted', 'opinion_transmitted', 'reply_received',
            'no_reply', 'published', 'press_release', 'further_communication',
        ]), nullable=False),
        sa.Column('happened_at', intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=True),
        sa.Column('communication_type', _enum('communicationtype', [
            'urgent_appeal', 'allegation_letter', 'other_letter',
        ]), nullable=True),
        sa.Column('reference', sa.String(length=40), nullable=True),
        sa.Column('joined_mandates', sa.String(length=300), nullable=True),
        sa.Column('link', sa.String(length=500), nullable=True),
        sa.Column('due_hours', sa.Integer(), nullable=True),
        sa.Column('sealed_summary', sa.Text(), nullable=True),
        sa.Column('summary_org_key_id', sa.Integer(), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['referral_id'], ['referrals.id'],
            name=op.f('fk_un_steps_referral_id_referrals'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['summary_org_key_id'], ['org_keys.id'],
            name=op.f('fk_un_steps_summary_org_key_id_org_keys'),
        ),
        sa.ForeignKeyConstraint(
            ['recorded_by_id'], ['users.id'], name=op.f('fk_un_steps_recorded_by_id_users'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_un_steps')),
    )
    op.create_index('ix_un_steps_referral_happened', 'un_steps', ['referral_id', 'happened_at'])


def downgrade():
    op.drop_index('ix_un_steps_referral_happened', table_name='un_steps')
    op.drop_table('un_steps')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_column('clock_generation')
