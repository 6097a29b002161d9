"""sample_cases: which cases `flask demo` made, so that `flask demo --remove` takes them away

The README's "Trying it" fills the queue with sample cases; an organisation that then went
into real use kept them among its real requests for good: in its reports, its reminders
(sent to real colleagues) and its queue, with nothing to tell them apart (a review).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07 05:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sample_cases',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['case_id'], ['cases.id'], name=op.f('fk_sample_cases_case_id_cases'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('case_id', name=op.f('pk_sample_cases')),
    )


def downgrade():
    op.drop_table('sample_cases')
