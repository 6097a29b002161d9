"""case_search_tokens: keyed search tokens of sealed cases, computed in the browser

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import intake.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_search_index',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('org_key_id', sa.Integer(), nullable=False),
        sa.Column('token_count', sa.Integer(), nullable=False),
        sa.Column('indexed_at', intake.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_search_index_case_id_cases'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_key_id'], ['org_keys.id'], name=op.f('fk_case_search_index_org_key_id_org_keys')),
        sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_search_index')),
    )
    with op.batch_alter_table('case_search_index', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_search_index_org_key_id'), ['org_key_id'], unique=False)
    op.create_table(
        'case_search_tokens',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('org_key_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_search_tokens_case_id_cases'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_key_id'], ['org_keys.id'], name=op.f('fk_case_search_tokens_org_key_id_org_keys')),
        sa.PrimaryKeyConstraint('case_id', 'token', name=op.f('pk_case_search_tokens')),
    )
    with op.batch_alter_table('case_search_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_case_search_tokens_key_token', ['org_key_id', 'token'], unique=False)


def downgrade():
    with op.batch_alter_table('case_search_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_case_search_tokens_key_token')
    op.drop_table('case_search_tokens')
    with op.batch_alter_table('case_search_index', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_search_index_org_key_id'))
    op.drop_table('case_search_index')
