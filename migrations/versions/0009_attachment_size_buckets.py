"""attachment_size_buckets: case_attachments.size keeps only the size bucket, never the exact size

Attachments stored before padding keep their unpadded ciphertext (the server cannot re-seal
without the organisation secret key), so their sealed_content length still tells the exact size
to whoever reads that column; the clear ``size`` that staff pages and the sealed JSON show is
rewritten to the bucket the file would have been padded to. The buckets are copied here, not
imported, so that this revision means the same thing whatever intake.crypto later becomes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

SEAL_OVERHEAD = 48
BUCKET_MIN = 4 * 1024
BUCKET_STEP = 1024 * 1024


def _bucket(envelope_length: int) -> int:
    needed = envelope_length + 1
    if needed > BUCKET_STEP:
        return -(-needed // BUCKET_STEP) * BUCKET_STEP
    bucket = BUCKET_MIN
    while bucket < needed:
        bucket *= 2
    return bucket


def _is_bucket(size: int) -> bool:
    if size >= BUCKET_STEP:
        return size % BUCKET_STEP == 0
    return size >= BUCKET_MIN and size & (size - 1) == 0


def _size_for(sealed_length: int) -> int:
    """Already padded (written by the new code before this ran): keep; else its bucket."""
    body = max(sealed_length - SEAL_OVERHEAD, 0)
    return body if _is_bucket(body) else _bucket(body)


def upgrade():
    connection = op.get_bind()
    attachments = sa.table(
        'case_attachments',
        sa.column('id', sa.Integer),
        sa.column('size', sa.Integer),
        sa.column('sealed_content', sa.LargeBinary),
    )
    rows = connection.execute(
        sa.select(attachments.c.id, sa.func.length(attachments.c.sealed_content))
    ).all()
    for attachment_id, sealed_length in rows:
        connection.execute(
            attachments.update()
            .where(attachments.c.id == attachment_id)
            .values(size=_size_for(sealed_length))
        )


def downgrade():
    # Before this revision size was the sealed length; the ciphertext still has it.
    op.execute('UPDATE case_attachments SET size = length(sealed_content)')
