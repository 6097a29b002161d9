"""consent_records: consent as dated records per purpose, withdrawable (issue 12)

Backfill: a case with consent_given gets share_with_organisation and un_submission records
given by the submitter through the intake form at the case's received_at; that is what the one
flag meant (everyone named agreed, and the submitter allowed sharing).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-11 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import intake.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

PURPOSES = ['share_with_organisation', 'un_submission', 'reprisals_report', 'publication']
GIVERS = ['person', 'family', 'lawyer', 'submitter']
CHANNELS = ['intake_form', 'follow_up_message', 'call_note', 'status_page']


def _enum(name, values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade():
    op.create_table(
        'consent_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('purpose', _enum('consentpurpose', PURPOSES), nullable=False),
        sa.Column('entry_id', sa.String(length=64), nullable=True),
        sa.Column('given_by', _enum('consentgiver', GIVERS), nullable=False),
        sa.Column('given_via', _enum('consentchannel', CHANNELS), nullable=False),
        sa.Column('given_at', intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('withdrawn_at', intake.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_by', _enum('withdrawnby', GIVERS), nullable=True),
        sa.Column('withdrawn_via', _enum('withdrawnvia', CHANNELS), nullable=True),
        sa.Column('withdrawal_recorded_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['case_id'], ['cases.id'],
            name=op.f('fk_consent_records_case_id_cases'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['entry_id'], ['directory_entries.id'],
            name=op.f('fk_consent_records_entry_id_directory_entries'), ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['recorded_by_id'], ['users.id'], name=op.f('fk_consent_records_recorded_by_id_users'),
        ),
        sa.ForeignKeyConstraint(
            ['withdrawal_recorded_by_id'], ['users.id'],
            name=op.f('fk_consent_records_withdrawal_recorded_by_id_users'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records')),
    )
    op.create_index(
        'ix_consent_records_case_purpose', 'consent_records', ['case_id', 'purpose']
    )
    for purpose in ('share_with_organisation', 'un_submission'):
        op.execute(
            sa.text(
                "INSERT INTO consent_records (case_id, purpose, given_by, given_via, given_at) "
                "SELECT id, :purpose, 'submitter', 'intake_form', received_at FROM cases "
                "WHERE consent_given"
            ).bindparams(purpose=purpose)
        )


def downgrade():
    op.drop_index('ix_consent_records_case_purpose', table_name='consent_records')
    op.drop_table('consent_records')
