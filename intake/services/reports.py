"""The numbers of an annual report, from routing fields and workflow state only.

Nothing here decrypts or even selects a sealed column: every figure is a count over the clear
routing fields of DESIGN §1.2 (urgency, threats, profiles, country, consent, dates) and the
workflow state of cases, referrals and the reminder outbox. Counting happens in the database
with ``GROUP BY`` wherever the database can do it; the JSON lists (threats, profiles) are
unnested in SQL on PostgreSQL and SQLite, with a streamed count in Python as the fallback.

What belongs to a period:

* requests (cases): received in the period; their status and outcome are as of now;
* referrals: sent in the period (a draft: started in the period);
* reminders: e-mailed in the period;
* days to first referral: for requests received in the period that have a referral sent.

Retention deletes closed cases after a year; just before, each leaves a skeleton (the routing
facts and workflow dates counted here, nothing identifying: ``intake.models.skeleton``). Every
figure counts live rows and skeletons together, so a past year's report does not shrink.

Periods are whole local days in the organisation's time zone (``ORG_TIMEZONE``): a request
received at 23:30 on 31 December in Taipei belongs to that year even though it is 15:30 UTC.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AWAITING,
    Case,
    CaseSkeleton,
    DirectoryEntry,
    OutboxStatus,
    Referral,
    ReferralSkeleton,
    ReminderOutbox,
)
from intake.models.skeleton import CASE_SKELETON_COLUMNS, REFERRAL_SKELETON_COLUMNS
from intake.services import security_notices

# Counts from 1 to SMALL_CELL - 1 in a breakdown that can point at a person (country, profile)
# are shown as "<5". Totals stay exact.
SMALL_CELL = 5
SUPPRESSED = f"<{SMALL_CELL}"
# A custom period may span at most this many days (ten years), within these years.
MAX_SPAN_DAYS = 3653
MIN_YEAR = 1990
MAX_YEAR = 2100
TOP_ENTRIES = 10
STREAM_CHUNK = 5000

# Deadline adherence buckets, in the order a report lists them.
ADHERENCE = (
    "on_time",  # acknowledged or answered on or before the due date
    "late",  # acknowledged or answered after the due date
    "overdue",  # still waiting, past the due date
    "not_yet_due",  # still waiting, due date ahead
    "ended_without_reply",  # marked no reply, closed or withdrawn without an answer
    "no_deadline",  # no due date (clock not started)
)


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    start_utc: datetime
    end_utc: datetime  # exclusive

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local day starts, in UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """Whole local days from ``start`` to ``end`` (both included) in ``zone``."""

    start: date
    end: date
    zone: ZoneInfo
    kind: str = "custom"  # "this_year" | "last_year" | "custom"

    @property
    def start_utc(self) -> datetime:
        return local_midnight(self.start, self.zone)

    @property
    def end_utc(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return local_midnight(self.end + timedelta(days=1), self.zone)

    def months(self) -> list[Month]:
        months = []
        year, month = self.start.year, self.start.month
        while date(year, month, 1) <= self.end:
            following = date(year + (month == 12), month % 12 + 1, 1)
            first = max(self.start, date(year, month, 1))
            last = min(self.end + timedelta(days=1), following)
            months.append(
                Month(
                    year, month, local_midnight(first, self.zone), local_midnight(last, self.zone)
                )
            )
            year, month = following.year, following.month
        return months


def year_period(year: int, zone: ZoneInfo, kind: str = "custom") -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31), zone, kind)


def this_year(zone: ZoneInfo, now: datetime | None = None) -> Period:
    today = (now or utcnow()).astimezone(zone).date()
    return year_period(today.year, zone, "this_year")


def last_year(zone: ZoneInfo, now: datetime | None = None) -> Period:
    today = (now or utcnow()).astimezone(zone).date()
    return year_period(today.year - 1, zone, "last_year")


def suppress(count: int) -> int | str:
    """Small-cell suppression for breakdowns that could identify someone."""
    return SUPPRESSED if 0 < count < SMALL_CELL else count


@dataclass
class EntryCount:
    entry_id: str
    name: str
    name_zh: str | None
    count: int


@dataclass
class CaseFigures:
    total: int = 0
    per_month: list[tuple[Month, int]] = field(default_factory=list)
    urgency: dict[str, int] = field(default_factory=dict)
    threats: dict[str, int] = field(default_factory=dict)
    profiles: dict[str, int] = field(default_factory=dict)
    countries: dict[str | None, int] = field(default_factory=dict)
    sealed_by: dict[str, int] = field(default_factory=dict)
    consent: dict[bool, int] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    outcome: dict[str, int] = field(default_factory=dict)
    # Requests of the period with at least one referral sent, and the median days from
    # receiving the request to sending its first referral.
    referred: int = 0
    median_days_to_referral: float | None = None


@dataclass
class ReferralFigures:
    total: int = 0
    kind: dict[str, int] = field(default_factory=dict)
    state: dict[str, int] = field(default_factory=dict)
    entries: list[EntryCount] = field(default_factory=list)
    adherence: dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    period: Period
    generated_at: datetime
    cases: CaseFigures
    referrals: ReferralFigures
    reminders: dict[str, int]

    @property
    def reminders_total(self) -> int:
        return sum(self.reminders.values())

    @property
    def empty(self) -> bool:
        return not (self.cases.total or self.referrals.total or self.reminders_total)


# --- requests --------------------------------------------------------------------------------

# The columns each breakdown of requests counts, by the name the breakdown is returned under.
DIMENSIONS = ("urgency", "sealed_by", "consent_given", "status", "outcome", "country", "month")
TAG_COLUMNS = ("threats", "profiles")


def _case_rows(period: Period) -> sa.Subquery:
    """The period's requests: live cases and the skeletons of purged ones (one UNION ALL, each
    side filtered on its indexed ``received_at``), with when each first referral was sent."""
    first_sent = (
        sa.select(sa.func.min(Referral.sent_at))
        .where(Referral.case_id == Case.id, Referral.sent_at.is_not(None))
        .scalar_subquery()
    )
    live = sa.select(
        *(getattr(Case, name) for name in CASE_SKELETON_COLUMNS), first_sent.label("first_sent")
    ).where(Case.received_at >= period.start_utc, Case.received_at < period.end_utc)
    purged = sa.select(
        *(getattr(CaseSkeleton, name) for name in CASE_SKELETON_COLUMNS),
        CaseSkeleton.first_referral_at.label("first_sent"),
    ).where(CaseSkeleton.received_at >= period.start_utc, CaseSkeleton.received_at < period.end_utc)
    return sa.union_all(live, purged).subquery("requests")


def _month_bucket(months: list[Month], received_at: Any) -> sa.ColumnElement[int]:
    """The index of the local month a request was received in: a CASE on the UTC bounds of
    each month, so the time zone is applied the same way on SQLite and PostgreSQL."""
    return sa.case(
        *[(received_at < month.end_utc, index) for index, month in enumerate(months)],
        else_=-1,
    )


def _unnest(column: Any) -> tuple[Any, sa.ColumnElement[bool]]:
    """A table of the elements of a JSON list column, and a guard that skips non-lists."""
    if db.session.get_bind().dialect.name == "postgresql":
        elements = sa.func.json_array_elements_text(column).table_valued("value")
        return elements, sa.func.json_typeof(column) == "array"
    elements = sa.func.json_each(column).table_valued("value", "type")  # SQLite
    return elements, elements.c.type == "text"


def _breakdowns(
    period: Period, months: list[Month], tags: bool, median: bool = False
) -> dict[str, Counter[str]]:
    """Every breakdown of the period's requests in ONE statement and one pass over the table:
    the period's rows (routing columns only) go into a CTE, and a UNION ALL of small GROUP BYs
    over it returns (breakdown, key, count) rows. With ``tags`` the JSON lists are unnested in
    the same statement; with ``median`` (PostgreSQL) the median time to a first referral is
    computed there too, as ("first_referral", seconds, requests referred)."""
    rows = _case_rows(period)
    columns: list[Any] = [
        rows.c.received_at,
        rows.c.urgency,
        rows.c.sealed_by,
        rows.c.consent_given,
        rows.c.status,
        rows.c.outcome,
        rows.c.country,
        rows.c.first_sent,
        _month_bucket(months, rows.c.received_at).label("month"),
    ]
    if tags:
        columns += [rows.c.threats, rows.c.profiles]
    period_cases = sa.select(*columns).cte("period_cases")
    parts: list[Any] = []
    for name in DIMENSIONS:
        column = period_cases.c[name]
        parts.append(
            sa.select(
                # Constant names from this module (never input): literal SQL keeps PostgreSQL
                # from asking the type of an untyped parameter in a UNION.
                sa.literal_column(f"'{name}'").label("breakdown"),
                sa.cast(column, sa.String).label("key"),
                sa.func.count().label("n"),
            ).group_by(column)
        )
    if tags:
        for name in TAG_COLUMNS:
            elements, guard = _unnest(period_cases.c[name])
            parts.append(
                sa.select(
                    sa.literal_column(f"'{name}'").label("breakdown"),
                    sa.cast(elements.c.value, sa.String).label("key"),
                    sa.func.count().label("n"),
                )
                .select_from(period_cases)
                .join(elements, sa.true())
                .where(guard)
                .group_by(elements.c.value)
            )
    if median:
        seconds = sa.extract("epoch", period_cases.c.first_sent - period_cases.c.received_at)
        parts.append(
            sa.select(
                sa.literal_column("'first_referral'").label("breakdown"),
                sa.cast(sa.func.percentile_cont(0.5).within_group(seconds), sa.String),
                sa.func.count(),
            )
            .select_from(period_cases)
            .where(period_cases.c.first_sent.is_not(None))
        )
    names = (*DIMENSIONS, *TAG_COLUMNS, "first_referral")
    found: dict[str, Counter[str]] = {name: Counter() for name in names}
    for breakdown, key, count in db.session.execute(sa.union_all(*parts)):
        found[str(breakdown)][key] += int(count)  # key None: no value (no country, outcome)
    return found


def _tags_in_python(period: Period) -> tuple[dict[str, int], dict[str, int]]:
    """Stream the two list columns (nothing else) and count in Python."""
    threats: Counter[str] = Counter()
    profiles: Counter[str] = Counter()
    rows = _case_rows(period)
    result = db.session.execute(
        sa.select(rows.c.threats, rows.c.profiles).execution_options(yield_per=STREAM_CHUNK)
    )
    for threat_list, profile_list in result:
        threats.update(str(t) for t in _as_list(threat_list))
        profiles.update(str(p) for p in _as_list(profile_list))
    return dict(threats), dict(profiles)


def _as_list(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else ()


def _days_to_first_referral(period: Period) -> tuple[int, float | None]:
    """How many requests of the period had a referral sent, and the median days it took."""
    rows = _case_rows(period)
    per_case = (
        sa.select(rows.c.received_at, rows.c.first_sent)
        .where(rows.c.first_sent.is_not(None))
        .subquery()
    )
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        seconds = sa.extract("epoch", per_case.c.first_sent - per_case.c.received_at)
        count, median = db.session.execute(
            sa.select(
                sa.func.count(),
                sa.func.percentile_cont(0.5).within_group(seconds),
            )
        ).one()
        return int(count), (float(median) / 86400 if median is not None else None)
    if dialect == "sqlite":
        days = sa.func.julianday(per_case.c.first_sent) - sa.func.julianday(per_case.c.received_at)
        values = [float(v) for v in db.session.scalars(sa.select(days)) if v is not None]
    else:  # pragma: no cover - only the two supported databases are tested
        values = [
            (sent - received).total_seconds() / 86400
            for received, sent in db.session.execute(
                sa.select(per_case.c.received_at, per_case.c.first_sent)
            )
        ]
    return len(values), (statistics.median(values) if values else None)


def _value(member: Any) -> str:
    return str(getattr(member, "value", member))


def _known(counts: Counter[str]) -> dict[str, int]:
    return {str(key): n for key, n in counts.items() if key is not None}


def case_figures(period: Period, tags: str = "auto") -> CaseFigures:
    """``tags``: "auto" or "sql" unnest the JSON lists in the database (in the same statement
    as every other breakdown); "python" streams them and counts here."""
    dialect = db.session.get_bind().dialect.name
    in_sql = tags != "python" and dialect in {"postgresql", "sqlite"}
    median_in_sql = dialect == "postgresql"
    months = period.months()
    found = _breakdowns(period, months, tags=in_sql, median=median_in_sql)
    figures = CaseFigures()
    figures.total = sum(found["urgency"].values())
    figures.per_month = [(month, found["month"].get(str(i), 0)) for i, month in enumerate(months)]
    figures.urgency = _known(found["urgency"])
    figures.sealed_by = _known(found["sealed_by"])
    # PostgreSQL casts a boolean to 'true'/'false', SQLite stores 1/0.
    consent = {str(key).lower(): n for key, n in found["consent_given"].items()}
    figures.consent = {
        answer: consent.get(spelling, 0) + consent.get(digit, 0)
        for answer, spelling, digit in ((True, "true", "1"), (False, "false", "0"))
        if consent.get(spelling, 0) + consent.get(digit, 0)
    }
    figures.status = _known(found["status"])
    figures.outcome = {key: n for key, n in _known(found["outcome"]).items() if key}
    figures.countries = {key: n for key, n in found["country"].items()}
    if not figures.total:
        figures.countries = {}
        return figures
    if in_sql:
        figures.threats, figures.profiles = _known(found["threats"]), _known(found["profiles"])
    else:
        figures.threats, figures.profiles = _tags_in_python(period)
    if median_in_sql:
        for seconds, referred in found["first_referral"].items():
            figures.referred = referred
            figures.median_days_to_referral = float(seconds) / 86400 if referred else None
    else:
        figures.referred, figures.median_days_to_referral = _days_to_first_referral(period)
    return figures


# --- referrals and reminders -----------------------------------------------------------------


def _referral_rows(period: Period) -> sa.Subquery:
    """The period's referrals, live and purged (sent in the period; a draft: started in it)."""

    def of(model: Any) -> sa.Select[Any]:
        moment = sa.func.coalesce(model.sent_at, model.created_at)
        return sa.select(*(getattr(model, name) for name in REFERRAL_SKELETON_COLUMNS)).where(
            moment >= period.start_utc, moment < period.end_utc
        )

    return sa.union_all(of(Referral), of(ReferralSkeleton)).subquery("period_referrals")


def _adherence(period: Period, now: datetime) -> dict[str, int]:
    """Each referral's deadline, as /referrals counts it: one still waiting for its answer
    (a draft, sent or acknowledged) is overdue once its due date has passed. Counted as
    "acknowledged in time" before, an acknowledged referral awaiting the government's reply
    was on time here and overdue on its own page (a review: 20 here, 23 on /referrals). A
    finished one was acknowledged or answered in time, or late, or ended without either."""
    referrals = _referral_rows(period)
    answered = sa.func.coalesce(referrals.c.acknowledged_at, referrals.c.replied_at)
    waiting = referrals.c.state.in_([state.value for state in AWAITING])
    bucket = sa.case(
        (referrals.c.due_at.is_(None), "no_deadline"),
        (sa.and_(waiting, referrals.c.due_at < now), "overdue"),
        (waiting, "not_yet_due"),
        (sa.and_(answered.is_not(None), answered <= referrals.c.due_at), "on_time"),
        (answered.is_not(None), "late"),
        else_="ended_without_reply",
    ).label("bucket")
    inner = sa.select(bucket).subquery()
    rows = db.session.execute(sa.select(inner.c.bucket, sa.func.count()).group_by(inner.c.bucket))
    return {str(name): int(count) for name, count in rows}


def _top_entries(period: Period) -> list[EntryCount]:
    count = sa.func.count().label("n")
    referrals = _referral_rows(period)
    top = sa.select(referrals.c.entry_id, count).group_by(referrals.c.entry_id).subquery()
    rows = db.session.execute(
        sa.select(top.c.entry_id, DirectoryEntry.name, DirectoryEntry.name_zh, top.c.n)
        .outerjoin(DirectoryEntry, DirectoryEntry.id == top.c.entry_id)
        .order_by(top.c.n.desc(), top.c.entry_id)
        .limit(TOP_ENTRIES)
    )
    return [
        EntryCount(str(entry_id), name or str(entry_id), name_zh, int(n))
        for entry_id, name, name_zh, n in rows
    ]


def referral_figures(period: Period, now: datetime) -> ReferralFigures:
    figures = ReferralFigures()
    period_referrals = _referral_rows(period)
    rows = db.session.execute(
        sa.select(period_referrals.c.kind, period_referrals.c.state, sa.func.count()).group_by(
            period_referrals.c.kind, period_referrals.c.state
        )
    )
    kind: Counter[str] = Counter()
    state: Counter[str] = Counter()
    for kind_value, state_value, count in rows:
        figures.total += count
        kind[_value(kind_value)] += count
        state[_value(state_value)] += count
    figures.kind, figures.state = dict(kind), dict(state)
    if figures.total:
        figures.entries = _top_entries(period)
        figures.adherence = _adherence(period, now)
    return figures


def reminders_sent(period: Period) -> dict[str, int]:
    """E-mails the outbox delivered in the period, by kind (reminder, digest). A reminder
    e-mail is a batch (or, before batches, a reminder mailed alone); the reminders a batch
    carried are not e-mails of their own. Security notices are about accounts, not casework,
    and are not counted (nor kept past retention: services.retention)."""
    kind = sa.case((ReminderOutbox.kind == "batch", "reminder"), else_=ReminderOutbox.kind)
    rows = db.session.execute(
        sa.select(kind, sa.func.count())
        .where(
            ReminderOutbox.status == OutboxStatus.SENT,
            ReminderOutbox.sent_at >= period.start_utc,
            ReminderOutbox.sent_at < period.end_utc,
            ReminderOutbox.is_email(),
            ReminderOutbox.kind != security_notices.KIND,
        )
        .group_by(kind)
    )
    found: Counter[str] = Counter()
    for name, count in rows:
        found[str(name)] += int(count)
    return dict(found)


def build_report(period: Period, now: datetime | None = None, tags: str = "auto") -> Report:
    """Every figure of the reports page for ``period``; ``tags`` picks how the JSON lists are
    counted ("auto": in SQL where the database can unnest them, "sql", "python")."""
    now = now or utcnow()
    return Report(
        period=period,
        generated_at=now,
        cases=case_figures(period, tags),
        referrals=referral_figures(period, now),
        reminders=reminders_sent(period),
    )


def ordered(counts: Mapping[str, int], vocabulary: Iterable[str]) -> list[tuple[str, int]]:
    """Every vocabulary id (zero included) then any unknown id found in the data."""
    known = list(vocabulary)
    extra = sorted(key for key in counts if key not in known)
    return [(key, int(counts.get(key, 0))) for key in [*known, *extra]]
