"""ids_never_reused: on SQLite, a deleted case's id never comes back, nor what named it

SQLite gives a new row max(id) + 1, so deleting the newest rows frees their ids, and until
now its connections did not enforce foreign keys, so ON DELETE CASCADE did nothing there: the
retention purge left a purged case's consent records, search tokens and its referrals' UN
steps behind, and the next request took the purged case's id and inherited them (consent it
was never given, tokens that matched it, audit events about another person).

On SQLite this revision
- deletes the rows left behind (those whose case, referral or message is gone), as the
  cascades would have; a reminder already mailed alone keeps its row and loses its referral,
  as the purge does;
- rebuilds the tables whose ids are named elsewhere (in other rows, audit events, URLs) with
  AUTOINCREMENT, which never hands out an id again;
- starts each one's counter after the highest id ever used, not only the highest still in the
  table: an id that survives only in a row left behind or in the audit log (a purged case's
  "case.purged" event) was used, and must not name a new row.
PostgreSQL enforced the cascades and its sequences never go back: nothing to do there.

Reflection does not see AUTOINCREMENT: a later migration that rebuilds one of these tables on
SQLite (batch "move and copy") must pass table_kwargs={'sqlite_autoincrement': True}. Such a
rebuild also drops the table's counter with the old table; migrations/env.py raises it back
after every revision. And as 0032 says, a rebuild of cases drops status_rank (and its index)
and adds it back.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None

# The tables whose ids are named elsewhere, parents before children.
TABLES = (
    'cases',
    'case_messages',
    'case_attachments',
    'consent_records',
    'referrals',
    'un_steps',
    'reminder_outbox',
)

# As intake.models.case.STATUS_RANK_SQL was written in 0032 (a migration keeps its own).
STATUS_RANK_SQL = (
    "CASE status WHEN 'new' THEN 0 WHEN 'assessing' THEN 1 WHEN 'referred' THEN 2 "
    "WHEN 'monitoring' THEN 3 WHEN 'closed' THEN 4 ELSE 5 END"
)

# Rows whose parent is gone, in an order where a parent's orphans go before its children's
# check (an orphaned referral takes its UN steps along). Only SQL of our own, no values.
ORPHANS = (
    "DELETE FROM referrals WHERE case_id NOT IN (SELECT id FROM cases)",
    "DELETE FROM un_steps WHERE referral_id NOT IN (SELECT id FROM referrals)",
    # A reminder mailed alone stays counted in the report without its referral (retention).
    "UPDATE reminder_outbox SET referral_id = NULL"
    " WHERE referral_id NOT IN (SELECT id FROM referrals)"
    " AND status = 'sent' AND batch_id IS NULL",
    "DELETE FROM reminder_outbox"
    " WHERE referral_id IS NOT NULL AND referral_id NOT IN (SELECT id FROM referrals)",
    "UPDATE reminder_outbox SET batch_id = NULL"
    " WHERE batch_id IS NOT NULL AND batch_id NOT IN (SELECT id FROM reminder_outbox)",
    "DELETE FROM consent_records WHERE case_id NOT IN (SELECT id FROM cases)",
    "DELETE FROM case_search_tokens WHERE case_id NOT IN (SELECT id FROM cases)",
    "DELETE FROM case_search_index WHERE case_id NOT IN (SELECT id FROM cases)",
    "DELETE FROM case_messages WHERE case_id NOT IN (SELECT id FROM cases)",
    "DELETE FROM case_attachments WHERE case_id NOT IN (SELECT id FROM cases)"
    " OR (message_id IS NOT NULL AND message_id NOT IN (SELECT id FROM case_messages))",
)


def _in_case_events(key):
    """The highest id an audit event about a case names under ``key`` in its detail."""
    return (
        f"SELECT max(CAST(json_extract(detail, '$.{key}') AS INTEGER)) FROM audit_events"
        " WHERE target_type = 'case'"
    )


def _targets(target_type):
    """The highest numeric id audit events name as their target of ``target_type``."""
    return (
        "SELECT max(CAST(target_id AS INTEGER)) FROM audit_events"
        f" WHERE target_type = '{target_type}'"
        " AND target_id <> '' AND target_id NOT GLOB '*[^0-9]*'"
    )


# Where else each table's ids are written down (besides its own rows).
NAMED_ELSEWHERE = {
    'cases': (
        *(
            f"SELECT max(case_id) FROM {table}"
            for table in (
                'referrals', 'consent_records', 'case_messages', 'case_attachments',
                'case_search_index', 'case_search_tokens',
            )
        ),
        _targets('case'),
    ),
    'case_messages': (
        "SELECT max(message_id) FROM case_attachments",
        _in_case_events('message_id'),
        _in_case_events('copy_id'),
    ),
    'case_attachments': (_in_case_events('attachment_id'),),
    'consent_records': (_in_case_events('record'),),
    'referrals': (
        "SELECT max(referral_id) FROM un_steps",
        "SELECT max(referral_id) FROM reminder_outbox",
        _in_case_events('referral'),
    ),
    'un_steps': (_in_case_events('un_step'),),
    'reminder_outbox': (
        "SELECT max(batch_id) FROM reminder_outbox",
        _in_case_events('notice_id'),
        _targets('outbox'),
    ),
}


def _status_rank():
    return sa.Column(
        'status_rank', sa.SmallInteger(), sa.Computed(STATUS_RANK_SQL, persisted=True),
        nullable=False,
    )


def _rebuild(table, autoincrement):
    with op.batch_alter_table(
        table, recreate='always', table_kwargs={'sqlite_autoincrement': autoincrement}
    ) as batch_op:
        if table == 'cases':
            # The copy cannot write a generated column: the rebuilt table computes it again.
            batch_op.drop_index('ix_cases_status_rank')
            batch_op.drop_column('status_rank')
            batch_op.add_column(_status_rank())
            batch_op.create_index(
                'ix_cases_status_rank', ['status_rank', 'received_at', 'id'], unique=False
            )


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return
    # Read before the rows left behind go: they are what remembers some of the ids.
    highest = {
        table: max(
            bind.exec_driver_sql(query).scalar() or 0
            for query in (f"SELECT max(id) FROM {table}", *NAMED_ELSEWHERE[table])
        )
        for table in TABLES
    }
    for statement in ORPHANS:
        op.execute(statement)
    for table in TABLES:
        _rebuild(table, autoincrement=True)
    # sqlite_sequence holds each AUTOINCREMENT table's highest id given; the copy set it to
    # the highest in the table, or left no row for an empty one.
    for table, seq in highest.items():
        bind.execute(
            sa.text("UPDATE sqlite_sequence SET seq = :seq WHERE name = :name AND seq < :seq"),
            {"name": table, "seq": seq},
        )
        bind.execute(
            sa.text(
                "INSERT INTO sqlite_sequence (name, seq) SELECT :name, :seq"
                " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = :name)"
            ),
            {"name": table, "seq": seq},
        )


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    # The rows left behind stay deleted: they were never anyone's.
    for table in reversed(TABLES):
        _rebuild(table, autoincrement=False)
