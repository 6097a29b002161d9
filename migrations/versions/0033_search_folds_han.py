"""search_folds_han: every case searched again after the tokeniser folds Chinese scripts

Search tokens are computed in a key holder's browser (static/js/search.js). From this
revision it reads Traditional Chinese characters as Simplified ones (OpenCC's character table,
vendor/han-fold.js), so that 人权 finds 人權 and 台北 finds 臺北. Tokens made before do not
fold, and a folded query would miss them: every case is marked as not indexed, so that the
background indexing of the queue computes its tokens again at the next visit of a key holder.
The old tokens stay until then (what was findable still is), and every search by words says
how many cases it cannot find yet, as after a key rotation.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 13:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM case_search_index")


def downgrade():
    # The earlier tokeniser does not fold: the folded tokens would miss its queries.
    op.execute("DELETE FROM case_search_index")
