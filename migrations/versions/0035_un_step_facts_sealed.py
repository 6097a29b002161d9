"""un_step_facts_sealed: a UN step's reference and link are sealed, never in the clear

The UN publishes its communications, and they name the defender: a step's UN reference ("UA
CHN 12/2025") or the link to the published communication tied the case to a named person in a
seized database, beyond the routing facts DESIGN §1.2 keeps in the clear. From now on the
browser seals them to the organisation key, as it seals a reply's summary.

This revision seals each reference and link recorded in the clear to the organisation's
current public key (crypto_box_seal needs no secret), in the browser's format: base64 of
crypto_box_seal(sodium_pad(UTF-8 JSON {"body": text}, 1024)), records that key's id beside
each, and drops the clear columns. The format and its padding are written out here rather
than imported (as 0009 does), so that this revision means the same thing whatever
intake.crypto later becomes. It refuses to run while steps hold a reference or link and there
is no current organisation key: create the key first (`flask keys` or the admin pages).

The downgrade is one way only for the data: the server holds no secret key and cannot open
what it sealed, so the clear columns come back empty and the sealed values are dropped.

un_steps was rebuilt with AUTOINCREMENT on SQLite by 0034: its batch rebuilds here keep it.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 03:00:00.000000

"""
import base64
import json

from alembic import op
import sqlalchemy as sa
from nacl.public import PublicKey, SealedBox


# revision identifiers, used by Alembic.
revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None

PAD_BLOCK = 1024  # as intake.crypto.PAD_BLOCK and the browser's sodium_pad block
SQLITE_KEEPS = {'sqlite_autoincrement': True}  # 0034


def _pad(data):
    """ISO/IEC 7816-4 padding, byte for byte what libsodium's sodium_pad produces."""
    padded_length = (len(data) // PAD_BLOCK + 1) * PAD_BLOCK
    return data + b'\x80' + b'\x00' * (padded_length - len(data) - 1)


def _seal(text, public_key_b64):
    """``text`` as the browser seals a reference or link (js/un-steps.js, js/sealed.js)."""
    payload = json.dumps({'body': text}, ensure_ascii=False, separators=(',', ':'))
    box = SealedBox(PublicKey(base64.b64decode(public_key_b64, validate=True)))
    return base64.b64encode(bytes(box.encrypt(_pad(payload.encode('utf-8'))))).decode('ascii')


def upgrade():
    with op.batch_alter_table('un_steps', schema=None, table_kwargs=SQLITE_KEEPS) as batch_op:
        batch_op.add_column(sa.Column('sealed_reference', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('reference_org_key_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sealed_link', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('link_org_key_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_un_steps_reference_org_key_id_org_keys'),
            'org_keys', ['reference_org_key_id'], ['id'],
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_un_steps_link_org_key_id_org_keys'),
            'org_keys', ['link_org_key_id'], ['id'],
        )

    bind = op.get_bind()
    clear = bind.execute(
        sa.text(
            "SELECT id, reference, link FROM un_steps"
            " WHERE reference IS NOT NULL OR link IS NOT NULL ORDER BY id"
        )
    ).all()
    if clear:
        # The key new cases are sealed to (intake.services.keys.current_org_key).
        key = bind.execute(
            sa.text(
                "SELECT id, public_key FROM org_keys WHERE retired_at IS NULL"
                " ORDER BY id DESC LIMIT 1"
            )
        ).first()
        if key is None:
            raise RuntimeError(
                f"{len(clear)} UN step(s) hold a reference or link in the clear, and there is"
                " no current organisation key to seal them to: create it, then upgrade again."
            )
        for step_id, reference, link in clear:
            bind.execute(
                sa.text(
                    "UPDATE un_steps SET sealed_reference = :reference,"
                    " reference_org_key_id = :reference_key, sealed_link = :link,"
                    " link_org_key_id = :link_key WHERE id = :id"
                ),
                {
                    'id': step_id,
                    'reference': _seal(reference, key.public_key) if reference else None,
                    'reference_key': key.id if reference else None,
                    'link': _seal(link, key.public_key) if link else None,
                    'link_key': key.id if link else None,
                },
            )

    with op.batch_alter_table('un_steps', schema=None, table_kwargs=SQLITE_KEEPS) as batch_op:
        batch_op.drop_column('reference')
        batch_op.drop_column('link')


def downgrade():
    # The sealed references and links cannot be opened here: they are dropped, not restored.
    with op.batch_alter_table('un_steps', schema=None, table_kwargs=SQLITE_KEEPS) as batch_op:
        batch_op.add_column(sa.Column('reference', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('link', sa.String(length=500), nullable=True))
        batch_op.drop_constraint(
            batch_op.f('fk_un_steps_link_org_key_id_org_keys'), type_='foreignkey'
        )
        batch_op.drop_constraint(
            batch_op.f('fk_un_steps_reference_org_key_id_org_keys'), type_='foreignkey'
        )
        batch_op.drop_column('link_org_key_id')
        batch_op.drop_column('sealed_link')
        batch_op.drop_column('reference_org_key_id')
        batch_op.drop_column('sealed_reference')
