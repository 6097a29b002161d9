"""attachments_by_message_passkeys_kept: a message's files found by index; passkey ids kept

- case_attachments.message_id gets an index. Deleting a message (its case's purge) cascades
  to the files attached to it; without an index PostgreSQL looked for them by scanning every
  attachment, once per deleted message.
- On SQLite, passkeys is rebuilt with AUTOINCREMENT, as 0034 did for the tables whose ids
  are named elsewhere: a passkey's id is in its "Remove" button and in the audit log, and
  SQLite gave a removed passkey's id to the next one registered, so a "Remove" pressed on a
  page drawn before that (another tab) removed the new passkey. The counter starts after the
  highest id the table or the audit log ever named.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None

# A passkey's id as audit events name it ("auth.passkey_added" and "…_removed": detail.passkey).
HIGHEST_PASSKEY = (
    "SELECT max(CAST(json_extract(detail, '$.passkey') AS INTEGER)) FROM audit_events"
    " WHERE target_type = 'user'"
)


def upgrade():
    with op.batch_alter_table('case_attachments', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_case_attachments_message_id'), ['message_id'], unique=False
        )
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return
    highest = max(
        bind.exec_driver_sql(query).scalar() or 0
        for query in ("SELECT max(id) FROM passkeys", HIGHEST_PASSKEY)
    )
    with op.batch_alter_table(
        'passkeys', recreate='always', table_kwargs={'sqlite_autoincrement': True}
    ):
        pass
    bind.execute(
        sa.text("UPDATE sqlite_sequence SET seq = :seq WHERE name = 'passkeys' AND seq < :seq"),
        {"seq": highest},
    )
    bind.execute(
        sa.text(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'passkeys', :seq"
            " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'passkeys')"
        ),
        {"seq": highest},
    )


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table(
            'passkeys', recreate='always', table_kwargs={'sqlite_autoincrement': False}
        ):
            pass
    with op.batch_alter_table('case_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_attachments_message_id'))
