"""case_threats_index: the queue's threat filter by index (PostgreSQL)

Issue 14. The threat filter matched text inside the cases' JSON list of threats, which no
index covers: PostgreSQL scanned the open cases (and, misjudging how many match, sorted them
all). A GIN index over the list as jsonb answers `threats::jsonb @> '["detention"]'`, and its
statistics tell the planner how common each threat is. The expression index follows every
write of the column by itself. SQLite keeps matching the text (a laptop's few cases).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 05:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            'CREATE INDEX ix_cases_threats ON cases '
            'USING gin ((CAST(threats AS JSONB)) jsonb_path_ops)'
        )
        # Statistics of the indexed expression: how common each threat is.
        op.execute('ANALYZE cases')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_cases_threats')
