"""The Secretary-General's annual reprisals report (DESIGN §5, issue 12, seed 002).

Submissions go to ohchr-reprisals@un.org by 15 April and cover 1 May of the year before to
30 April. From 1 March (:func:`deadlines.reprisals_season`) /referrals and the daily digest show
the cases that match — threat ``reprisal``, received inside the period, in the organisation's
time zone — with their consent for that purpose. A ``reprisals_report`` referral to the OHCHR
reprisals entry carries the 15 April deadline (``REPRISALS_CUTOFF``) and its reminders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from intake.extensions import db
from intake.models import Case, Referral, ReferralKind
from intake.services import consent
from intake.services.deadlines import next_reprisals_cutoff, reprisals_period, reprisals_season
from intake.services.settings import org_zone

REPRISAL_THREAT = "reprisal"


@dataclass(frozen=True)
class ReprisalsCase:
    case: Case
    consent: bool | None
    referral_id: int | None  # an existing reprisals_report referral, if any


@dataclass(frozen=True)
class ReprisalsSeason:
    report_year: int
    period_start: datetime
    period_end: datetime  # exclusive
    cutoff: datetime
    cases: Sequence[ReprisalsCase]


def _matching(start: datetime, end: datetime) -> sa.Select[Any]:
    # Ids are [a-z_]: quoted in the stored JSON text, so this matches one whole id.
    return (
        sa.select(Case)
        .where(
            Case.received_at >= start,
            Case.received_at < end,
            sa.cast(Case.threats, sa.Text).like(f'%"{REPRISAL_THREAT}"%'),
        )
        .order_by(Case.received_at, Case.id)
    )


def season(now: datetime) -> ReprisalsSeason | None:
    """The report being prepared at ``now`` and its matching cases; ``None`` outside
    1 March – 15 April (local)."""
    zone = org_zone()
    year = reprisals_season(now, zone)
    if year is None:
        return None
    start, end = reprisals_period(year, zone)
    cases: Sequence[Case] = db.session.scalars(_matching(start, end)).all()
    referred = dict(
        db.session.execute(
            sa.select(Referral.case_id, sa.func.min(Referral.id))
            .where(
                Referral.kind == ReferralKind.REPRISALS_REPORT,
                Referral.case_id.in_([case.id for case in cases]),
            )
            .group_by(Referral.case_id)
        ).all()
    )
    return ReprisalsSeason(
        report_year=year,
        period_start=start,
        period_end=end,
        cutoff=next_reprisals_cutoff(now, zone),
        cases=[
            ReprisalsCase(case, consent.reprisals_consent(case), referred.get(case.id))
            for case in cases
        ],
    )


def digest_count(now: datetime) -> int | None:
    """For the daily digest: how many cases match the coming report (``None`` out of season)."""
    zone = org_zone()
    year = reprisals_season(now, zone)
    if year is None:
        return None
    start, end = reprisals_period(year, zone)
    return int(
        db.session.scalar(sa.select(sa.func.count()).select_from(_matching(start, end).subquery()))
        or 0
    )
