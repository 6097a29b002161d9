"""queue_by_index: the queue's sort and filter columns stored on each case, partial indexes for
open cases, trigram search of references (PostgreSQL), and the audit chain head in one row

Issue 14. Backfills every case from its referrals, and seeds the chain head from the newest
audit event.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-20 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import intake.db  # noqa: F401  (UTCDateTime in column types)


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

GENESIS = '0' * 64
OPEN = sa.text("status <> 'closed'")
URGENCY_RANK = {'immediate': 0, 'days': 1, 'weeks': 2, 'not_urgent': 3}
FIRST_RESPONSE_HOURS = {'immediate': 24, 'days': 72, 'weeks': 14 * 24, 'not_urgent': 30 * 24}


def _first_response_sql(dialect):
    """received_at + the urgency's first-response time, in this dialect's date arithmetic."""
    whens = []
    for urgency, hours in FIRST_RESPONSE_HOURS.items():
        if dialect == 'postgresql':
            value = f"received_at + interval '{hours} hours'"
        else:
            value = f"strftime('%Y-%m-%d %H:%M:%f000', received_at, '+{hours} hours')"
        whens.append(f"WHEN '{urgency}' THEN {value}")
    default = "received_at + interval '72 hours'" if dialect == 'postgresql' else (
        "strftime('%Y-%m-%d %H:%M:%f000', received_at, '+72 hours')"
    )
    return f"CASE urgency {' '.join(whens)} ELSE {default} END"


def upgrade():
    bind = op.get_bind()
    dialect = bind.dialect.name
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urgency_rank', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', intake.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_due', intake.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attention_at', intake.db.UTCDateTime(timezone=True), nullable=True))

    rank = ' '.join(f"WHEN '{u}' THEN {r}" for u, r in URGENCY_RANK.items())
    op.execute(
        f"UPDATE cases SET urgency_rank = CASE urgency {rank} ELSE 4 END, "
        f"first_response_at = {_first_response_sql(dialect)}"
    )
    next_due = (
        "(SELECT min(r.due_at) FROM referrals r WHERE r.case_id = cases.id "
        "AND r.state IN ('draft', 'sent', 'acknowledged'))"
    )
    op.execute(f"UPDATE cases SET next_due = {next_due}")
    respond = "CASE WHEN status = 'new' THEN first_response_at END"
    op.execute(
        f"UPDATE cases SET attention_at = CASE WHEN next_due IS NULL THEN {respond} "
        f"WHEN ({respond}) IS NULL THEN next_due "
        f"WHEN ({respond}) < next_due THEN ({respond}) ELSE next_due END"
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('urgency_rank', existing_type=sa.SmallInteger(), nullable=False)
        batch_op.alter_column(
            'first_response_at', existing_type=intake.db.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.create_index(
            'ix_cases_open_priority', ['urgency_rank', 'next_due', 'received_at', 'id'],
            unique=False, postgresql_where=OPEN, sqlite_where=OPEN,
        )
        batch_op.create_index(
            'ix_cases_open_deadline', ['next_due', 'received_at', 'id'],
            unique=False, postgresql_where=OPEN, sqlite_where=OPEN,
        )
        batch_op.create_index(
            'ix_cases_open_attention', ['attention_at'],
            unique=False, postgresql_where=OPEN, sqlite_where=OPEN,
        )
        batch_op.create_index(
            'ix_cases_queue_counts', ['status', 'assignee_id', 'attention_at', 'next_due'],
            unique=False,
        )
    if dialect == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.create_index(
            'ix_cases_ref_trgm', 'cases', ['ref'], unique=False,
            postgresql_using='gin', postgresql_ops={'ref': 'gin_trgm_ops'},
        )
    else:
        # The models name one index for both; on SQLite it is a plain one (LIKE '%…%' scans).
        op.create_index('ix_cases_ref_trgm', 'cases', ['ref'], unique=False)

    op.create_table(
        'audit_chain_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head')),
    )
    op.execute(
        "INSERT INTO audit_chain_head (id, hash) SELECT 1, coalesce("
        "(SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1), "
        f"'{GENESIS}')"
    )


def downgrade():
    op.drop_table('audit_chain_head')
    op.drop_index('ix_cases_ref_trgm', table_name='cases')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_queue_counts')
        batch_op.drop_index('ix_cases_open_attention', sqlite_where=OPEN)
        batch_op.drop_index('ix_cases_open_deadline', sqlite_where=OPEN)
        batch_op.drop_index('ix_cases_open_priority', sqlite_where=OPEN)
        batch_op.drop_column('attention_at')
        batch_op.drop_column('next_due')
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('urgency_rank')
