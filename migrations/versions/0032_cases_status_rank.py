"""cases_status_rank: the queue's Status sort read off an index

The Status sort orders cases by the workflow (new, assessing, referred, monitoring, closed),
not by the status's name: a CASE expression, which sorted every case per page (~190-245 ms at
100,000 demo cases). The database now computes that rank into a stored column from the
status (a generated column: nothing writes it, nothing can let it drift), indexed in the
sort's order.

A later migration that rebuilds cases on SQLite (batch "move and copy") must drop status_rank
and ix_cases_status_rank first and add them back after: Alembic's copy would write the column.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 22:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

# As intake.models.case.STATUS_RANK_SQL was written on this day (a migration keeps its own).
STATUS_RANK_SQL = (
    "CASE status WHEN 'new' THEN 0 WHEN 'assessing' THEN 1 WHEN 'referred' THEN 2 "
    "WHEN 'monitoring' THEN 3 WHEN 'closed' THEN 4 ELSE 5 END"
)


def _column():
    return sa.Column(
        'status_rank', sa.SmallInteger(), sa.Computed(STATUS_RANK_SQL, persisted=True),
        nullable=False,
    )


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot add a stored generated column to a table: the table is rebuilt.
        with op.batch_alter_table('cases', schema=None, recreate='always') as batch_op:
            batch_op.add_column(_column())
            batch_op.create_index(
                'ix_cases_status_rank', ['status_rank', 'received_at', 'id'], unique=False
            )
        return
    op.add_column('cases', _column())
    op.create_index('ix_cases_status_rank', 'cases', ['status_rank', 'received_at', 'id'])


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_status_rank')
        batch_op.drop_column('status_rank')
