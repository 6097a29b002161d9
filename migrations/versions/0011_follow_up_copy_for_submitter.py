"""follow_up_copy_for_submitter: a submitter's follow-up is also sealed to their receipt-code
key, so that they can reread their own messages at /status

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_for_submitter', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('case_messages', schema=None) as batch_op:
        batch_op.drop_column('sealed_for_submitter')
