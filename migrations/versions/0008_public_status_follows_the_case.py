"""public_status_follows_the_case: what the submitter sees is derived from the case, with a hold

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD = "shared_status IN ('received', 'assessing', 'referred', 'closed')"
NEW = "shared_status IN ('received', 'assessing', 'referred', 'waiting', 'closed')"
# casework.PUBLIC_STATUS: the status each case's submitter sees from now on.
DERIVED = (
    "CASE status WHEN 'new' THEN 'received' WHEN 'assessing' THEN 'assessing' "
    "WHEN 'referred' THEN 'referred' WHEN 'monitoring' THEN 'waiting' ELSE 'closed' END"
)


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('shared_status_held', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_constraint(op.f('ck_cases_sharedstatus'), type_='check')
        batch_op.create_check_constraint('sharedstatus', NEW)
    # Until now the submitter's status was set by hand and often left at "received".
    op.execute(f"UPDATE cases SET shared_status = {DERIVED}")


def downgrade():
    op.execute("UPDATE cases SET shared_status = 'referred' WHERE shared_status = 'waiting'")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_cases_sharedstatus'), type_='check')
        batch_op.create_check_constraint('sharedstatus', OLD)
        batch_op.drop_column('shared_status_held')
