"""The Secretary-General's annual reprisals report (DESIGN §5, issue 12, seed 002).

Submissions go to ohchr-reprisals@un.org by 15 April and cover 1 May of the year before to
30 April. From 1 March (:func:`deadlines.reprisals_season`) /referrals and the daily digest show
the cases that match — threat ``reprisal``, received inside the period, in the organisation's
time zone — with their consent for that purpose. A ``reprisals_report`` referral to the OHCHR
reprisals entry carries the 15 April deadline (``REPRISALS_CUTOFF``) and its reminders; its page
assembles the e-mail in the browser (js/reprisals-draft.js) from :func:`draft_facts`, and only
when consent for that purpose is on record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from intake.extensions import db
from intake.models import Case, ConsentPurpose, ConsentRecord, Referral, ReferralKind
from intake.services import consent
from intake.services.deadlines import (
    UN_KINDS,
    next_reprisals_cutoff,
    reprisals_period,
    reprisals_season,
)
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


@dataclass(frozen=True)
class ReprisalsDraft:
    """What the reprisals e-mail draft may know in the clear about a ``reprisals_report``
    referral: consent records, the period, and the case's other UN referrals."""

    consent: bool | None  # as :func:`consent.reprisals_consent`
    consent_record: ConsentRecord | None  # the newest active one, else the newest withdrawn
    publication_record: ConsentRecord | None  # the newest active consent to publish
    report_year: int | None
    period_first: date | None  # 1 May of the year before, local
    period_last: date | None  # 30 April, local
    un_referrals: Sequence[Referral]


def _newest(found: Sequence[ConsentRecord], purpose: ConsentPurpose) -> ConsentRecord | None:
    mine = [record for record in found if record.purpose is purpose]
    active = [record for record in mine if record.active]
    newest = active or mine
    return newest[-1] if newest else None


def draft_facts(referral: Referral) -> ReprisalsDraft:
    """The clear facts for the draft of ``referral`` (a ``reprisals_report`` referral). Its
    deadline is the report's 15 April, so the report year (and the period) follow from it."""
    case = referral.case
    found = consent.records(case)  # oldest first
    publication = _newest(found, ConsentPurpose.PUBLICATION)
    zone = org_zone()
    year = first = last = None
    if referral.due_at is not None:
        year = referral.due_at.astimezone(zone).year
        start, end = reprisals_period(year, zone)
        first = start.astimezone(zone).date()
        last = (end.astimezone(zone) - timedelta(days=1)).date()
    others = db.session.scalars(
        sa.select(Referral)
        .where(Referral.case_id == case.id, Referral.kind.in_(UN_KINDS))
        .order_by(Referral.created_at, Referral.id)
    ).all()
    return ReprisalsDraft(
        consent=consent.reprisals_consent(case),
        consent_record=_newest(found, ConsentPurpose.REPRISALS_REPORT),
        publication_record=publication if publication is not None and publication.active else None,
        report_year=year,
        period_first=first,
        period_last=last,
        un_referrals=others,
    )


def _day(moment: datetime | None) -> str | None:
    return moment.astimezone(org_zone()).date().isoformat() if moment is not None else None


def _consent_facts(record: ConsentRecord) -> dict[str, Any]:
    return {
        "given_by": record.given_by.value,
        "given_via": record.given_via.value,
        "given_at": _day(record.given_at),
    }


def browser_facts(referral: Referral, draft: ReprisalsDraft) -> dict[str, Any]:
    """The JSON the page hands js/reprisals-draft.js: routing facts, the period, consent kinds
    and dates, the case's UN referrals — what the server already holds in the clear."""
    case = referral.case
    return {
        "ref": case.ref,
        "referral_id": referral.id,
        "country": case.country,
        "threats": case.threats or [],
        "profiles": case.profiles or [],
        "urgency": case.urgency.value if case.urgency else None,
        "received": _day(case.received_at),
        "report_year": draft.report_year,
        "period_first": draft.period_first.isoformat() if draft.period_first else None,
        "period_last": draft.period_last.isoformat() if draft.period_last else None,
        "consent": {"on_record": True, **_consent_facts(draft.consent_record)}
        if draft.consent and draft.consent_record is not None
        else {"on_record": False},
        "publication": _consent_facts(draft.publication_record)
        if draft.publication_record is not None
        else None,
        "un_referrals": [
            {
                "to": other.entry.name if other.entry else other.entry_id,
                "kind": other.kind.value,
                "submitted": _day(other.sent_at),
            }
            for other in draft.un_referrals
        ],
    }
