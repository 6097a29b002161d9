"""Counts whose cost follows the page, not the table (issue 14): a list's tabs and summaries
say "100+" rather than reading every open case or running referral to say "41,327". Each
count reads at most COUNT_CAP + 1 entries (a LIMIT-ed subquery), or, for a deep page, as
many as that page's OFFSET does. The case queue and /referrals count this way."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

COUNT_CAP = 100


def is_capped(count: int) -> bool:
    """A count read as "COUNT_CAP+"."""
    return count > COUNT_CAP


def at_most(found: sa.Select[Any], limit: int) -> sa.ScalarSelect[int]:
    """How many rows ``found`` has, counting no further than ``limit`` + 1 (so a result above
    ``limit`` means "more"): the rows of a LIMIT-ed subquery. An ORDER BY on ``found`` names
    the index to walk: PostgreSQL then reads it from the start and stops at the limit, rather
    than scanning the table in storage order and hoping the matching rows come early."""
    return (
        sa.select(sa.func.count()).select_from(found.limit(limit + 1).subquery()).scalar_subquery()
    )
