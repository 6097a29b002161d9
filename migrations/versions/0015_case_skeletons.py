"""case_skeletons: what the annual report keeps of a case that retention deleted

Routing facts and workflow dates only: no reference, receipt lookup, sealed content, case id
or staff member (issue 12: last year's report must read the same next year).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import intake.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def _enum(name, values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade():
    op.create_table(
        'case_skeletons',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('received_at', intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('urgency', _enum('urgency', ['immediate', 'days', 'weeks', 'not_urgent']), nullable=False),
        sa.Column('threats', sa.JSON(), nullable=False),
        sa.Column('profiles', sa.JSON(), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=True),
        sa.Column('consent_given', sa.Boolean(), nullable=False),
        sa.Column('sealed_by', _enum('sealedby', ['browser', 'server']), nullable=False),
        sa.Column(
            'status',
            _enum('casestatus', ['new', 'assessing', 'referred', 'monitoring', 'closed']),
            nullable=False,
        ),
        sa.Column('outcome', sa.String(length=64), nullable=True),
        sa.Column('first_referral_at', intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('purged_at', intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_skeletons')),
    )
    op.create_index('ix_case_skeletons_received_at', 'case_skeletons', ['received_at'])
    op.create_table(
        'referral_skeletons',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.String(length=64), nullable=False),
        sa.Column('kind', _enum('referralkind', [
            'sp_urgent_appeal', 'sp_allegation_letter', 'sp_legislation', 'wgad_opinion',
            'reprisals_report', 'ngo_referral', 'embassy_contact', 'follow_up',
        ]), nullable=False),
        sa.Column('state', _enum('referralstate', [
            'draft', 'sent', 'acknowledged', 'replied', 'no_reply', 'closed', 'withdrawn',
        ]), nullable=False),
        sa.Column('created_at', intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('sent_at', intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('due_at', intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_at', intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('replied_at', intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('purged_at', intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_skeletons')),
    )
    op.create_index('ix_referral_skeletons_created_at', 'referral_skeletons', ['created_at'])


def downgrade():
    op.drop_index('ix_referral_skeletons_created_at', table_name='referral_skeletons')
    op.drop_table('referral_skeletons')
    op.drop_index('ix_case_skeletons_received_at', table_name='case_skeletons')
    op.drop_table('case_skeletons')
