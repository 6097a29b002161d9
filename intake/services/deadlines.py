"""Deadline rules of DESIGN §5 and the reminder offsets, as pure functions of time.

Day- and month-based deadlines are counted on the organisation's calendar (its time zone), so
"60 days after a letter sent at 10:00" ends at 10:00 local time whatever DST did in between;
hour-based ones (48 hours, 24 hours) are exact durations.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

from config.settings import BaseSettings
from intake.models.referral import ReferralKind

SP_REPLY_DAYS = 60
LEGISLATION_HOURS = 48
EMBASSY_HOURS = 24
# The kinds whose deadline a referral may set in hours (``due_hours``; due_at below).
KINDS_IN_HOURS = frozenset({ReferralKind.SP_LEGISLATION, ReferralKind.EMBASSY_CONTACT})
WGAD_MONTHS = 6
DEFAULT_NGO_DAYS = 14
# The app passes its FOLLOW_UP_DAYS and REMINDER_OFFSETS_DAYS; a caller without one (a test,
# a script) gets the settings' defaults, stated once in config/settings.py.
DEFAULT_FOLLOW_UP_DAYS = BaseSettings.FOLLOW_UP_DAYS
REPRISALS_CUTOFF = (4, 15)  # 15 April: the report covering 1 May to 30 April
# The period a report covers: 1 May of the year before to 30 April of its own year (seed 002).
REPRISALS_PERIOD_START = (5, 1)
# From 1 March the cases that match the coming report are shown (on /referrals, in the digest).
REPRISALS_SEASON_START = (3, 1)
DEFAULT_OFFSETS_DAYS = BaseSettings.REMINDER_OFFSETS_DAYS
# Overdue referrals are reminded weekly (DESIGN §5); a caseworker may ask for daily.
OVERDUE_EVERY_DAYS = 7
OVERDUE_DAILY = 1
# A deadline closer than this is "due soon": in the queue, on /referrals and in the digest
# (their words name the number of days: DUE_SOON_DAYS).
DUE_SOON_DAYS = 7
DUE_SOON = timedelta(days=DUE_SOON_DAYS)

# What starts each kind's clock, for the form and the docs.
CLOCK_STARTS = {
    ReferralKind.SP_URGENT_APPEAL: "sent",
    ReferralKind.SP_ALLEGATION_LETTER: "sent",
    ReferralKind.SP_LEGISLATION: "sent",
    ReferralKind.WGAD_OPINION: "sent",
    ReferralKind.REPRISALS_REPORT: "created",
    ReferralKind.NGO_REFERRAL: "sent",
    ReferralKind.EMBASSY_CONTACT: "case_received",
    ReferralKind.FOLLOW_UP: "sent",
}


# Referrals to a UN mechanism follow the UN's own steps (intake.services.un_steps): until the
# mandate writes to the government, their deadline is the follow-up clock below; the government's
# reply deadline runs from the communication (or the WGAD opinion's transmission), not from the
# submission.
UN_KINDS = frozenset(
    {
        ReferralKind.SP_URGENT_APPEAL,
        ReferralKind.SP_ALLEGATION_LETTER,
        ReferralKind.SP_LEGISLATION,
        ReferralKind.WGAD_OPINION,
    }
)


# "Due soon", one rule for the queue, /referrals and the digest: a deadline from now (not yet
# overdue) to just before now + DUE_SOON, the half-open window [now, now + DUE_SOON). Half
# open like "overdue" (due < now), which ends where "due soon" begins: a deadline is in one
# window or the next, never in two, and "closer than DUE_SOON" means what it says.


def due_soon_ends(now: datetime) -> datetime:
    """The first deadline that is no longer "due soon" at ``now``."""
    return now + DUE_SOON


def is_due_soon(due: datetime, now: datetime, *, or_overdue: bool = False) -> bool:
    """``due`` is due soon at ``now``; with ``or_overdue``, or already past."""
    return (or_overdue or now <= due) and due < due_soon_ends(now)


def due_soon_sql(
    due: QueryableAttribute[datetime | None],
    now: datetime | sa.ColumnElement[datetime],
    *,
    ends: sa.ColumnElement[datetime] | None = None,
    or_overdue: bool = False,
) -> sa.ColumnElement[bool]:
    """:func:`is_due_soon` as SQL. ``due`` is compared as it is, never inside a function, so
    an index on the column still serves (the queue is read off partial indexes). ``now`` may
    be a bound parameter; then ``ends`` must be one too, bound to ``due_soon_ends(now)`` (a
    statement built once for every request)."""
    if ends is None:
        if not isinstance(now, datetime):
            raise TypeError("a 'now' given as SQL needs its 'ends' as SQL too")
        ends_at: datetime | sa.ColumnElement[datetime] = due_soon_ends(now)
    else:
        ends_at = ends
    before_the_end = due < ends_at
    return before_the_end if or_overdue else sa.and_(due >= now, before_the_end)


class DeadlineError(ValueError):
    """A rule was given something it cannot work with (the message is safe to show)."""


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise DeadlineError("deadline rules need timezone-aware datetimes")
    return moment


def add_months(day: date, months: int) -> date:
    """Same day of the month ``months`` later, or the month's last day if it is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _local_shift(start: datetime, zone: ZoneInfo, *, days: int = 0, months: int = 0) -> datetime:
    local = _aware(start).astimezone(zone)
    shifted_day = add_months(local.date(), months) + timedelta(days=days)
    wall = datetime.combine(shifted_day, local.time().replace(tzinfo=None))
    # fold=0: on an ambiguous wall time take the first; a gap is pushed forward by zoneinfo.
    return wall.replace(tzinfo=zone).astimezone(UTC)


def moved_with(
    kind: ReferralKind, due: datetime, before: datetime, after: datetime, zone: ZoneInfo
) -> datetime:
    """The deadline ``due``, counted from ``before``, counted from ``after`` instead by the
    same period it was set with (a corrected date: the directory's response time, or the
    settings, may have changed since). A period in hours moves by as many hours; one in days
    or months by the same span of the organisation's calendar, at the same local time."""
    if kind in KINDS_IN_HOURS:
        return _aware(due) + (_aware(after) - _aware(before))

    def wall(moment: datetime) -> datetime:
        return _aware(moment).astimezone(zone).replace(tzinfo=None)

    moved = wall(due) + (wall(after) - wall(before))
    return moved.replace(tzinfo=zone).astimezone(UTC)


def next_reprisals_cutoff(start: datetime, zone: ZoneInfo) -> datetime:
    """End of the next 15 April (local) on or after ``start``."""
    local = _aware(start).astimezone(zone)
    month, day = REPRISALS_CUTOFF
    for year in (local.year, local.year + 1):
        cutoff = datetime.combine(date(year, month, day), time(23, 59, 59), tzinfo=zone)
        if cutoff >= local:
            return cutoff.astimezone(UTC)
    raise AssertionError("unreachable: next year's cut-off is always later")


def un_follow_up_due(submitted: datetime, zone: ZoneInfo, days: int) -> datetime:
    """When to check with a mandate that has not written to the government yet: ``days`` after
    the submission, on the organisation's calendar."""
    if days <= 0:
        raise DeadlineError("the follow-up period must be positive")
    return _local_shift(submitted, zone, days=days)


def government_reply_due(
    kind: ReferralKind, sent_to_government: datetime, zone: ZoneInfo, *, due_hours: int | None
) -> datetime:
    """The government's deadline, counted from the mandate's communication (or, for WGAD, the
    opinion's transmission): 60 days; 48 hours or the stated longer period for legislation;
    six months for a WGAD opinion."""
    if kind not in UN_KINDS:
        raise DeadlineError(f"{kind!r} is not a referral to a UN mechanism")
    return due_at(kind, sent_to_government, zone, due_hours=due_hours)


def reprisals_period(report_year: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The period the report due on 15 April ``report_year`` covers, as UTC ``[start, end)``:
    from 1 May of the year before to the end of 30 April, midnight to midnight local time."""
    month, day = REPRISALS_PERIOD_START
    start = datetime.combine(date(report_year - 1, month, day), time(0), tzinfo=zone)
    end = datetime.combine(date(report_year, month, day), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def reprisals_season(now: datetime, zone: ZoneInfo) -> int | None:
    """The year of the report being prepared at ``now``: from 1 March to its 15 April cut-off
    (local dates, inclusive); ``None`` for the rest of the year."""
    today = _aware(now).astimezone(zone).date()
    opens = date(today.year, *REPRISALS_SEASON_START)
    closes = date(today.year, *REPRISALS_CUTOFF)
    return today.year if opens <= today <= closes else None


def shortest_due_hours(kind: ReferralKind) -> int:
    """The shortest deadline in hours a referral of ``kind`` may be given (``due_hours``): a
    draft-law letter is never answered in less than 48 hours (a longer period may be set)."""
    return LEGISLATION_HOURS if kind is ReferralKind.SP_LEGISLATION else 1


def due_at(
    kind: ReferralKind,
    clock_start: datetime,
    zone: ZoneInfo,
    *,
    response_days: int | None = None,
    due_hours: int | None = None,
    follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS,
) -> datetime:
    """When a referral of ``kind`` whose clock started at ``clock_start`` is due (UTC)."""
    start = _aware(clock_start)
    if due_hours is not None and due_hours <= 0:
        raise DeadlineError("a deadline in hours must be positive")
    match kind:
        case ReferralKind.SP_URGENT_APPEAL | ReferralKind.SP_ALLEGATION_LETTER:
            return _local_shift(start, zone, days=SP_REPLY_DAYS)
        case ReferralKind.SP_LEGISLATION:
            # As short as 48 hours; a longer period may be set, never a shorter one.
            hours = max(due_hours or LEGISLATION_HOURS, shortest_due_hours(kind))
            return start.astimezone(UTC) + timedelta(hours=hours)
        case ReferralKind.WGAD_OPINION:
            return _local_shift(start, zone, months=WGAD_MONTHS)
        case ReferralKind.REPRISALS_REPORT:
            return next_reprisals_cutoff(start, zone)
        case ReferralKind.NGO_REFERRAL:
            return _local_shift(start, zone, days=response_days or DEFAULT_NGO_DAYS)
        case ReferralKind.EMBASSY_CONTACT:
            return start.astimezone(UTC) + timedelta(hours=due_hours or EMBASSY_HOURS)
        case ReferralKind.FOLLOW_UP:
            return _local_shift(start, zone, days=follow_up_days)
    raise DeadlineError(f"no deadline rule for {kind!r}")


@dataclass(frozen=True)
class ReminderSlot:
    """One reminder of a referral: ``d14`` … ``d0`` before, ``overdue-N`` after."""

    key: str
    fires_at: datetime


def reminder_slots(
    due: datetime,
    clock_start: datetime,
    zone: ZoneInfo,
    now: datetime,
    offsets_days: Sequence[int] = DEFAULT_OFFSETS_DAYS,
    overdue_every_days: int = OVERDUE_EVERY_DAYS,
) -> list[ReminderSlot]:
    """Every slot that has fired by ``now``, oldest first.

    ``dN`` fires N days before the deadline (``d0`` at the start of the due day, local time);
    slots before the clock started are skipped (a 48-hour deadline gets no "14 days before").
    While overdue, ``overdue-N`` fires N whole days after the deadline, every
    ``overdue_every_days`` (weekly by default, daily for whoever asked): N is a multiple of it,
    so switching between the two never repeats a reminder already sent.
    """
    due, clock_start, now = _aware(due), _aware(clock_start), _aware(now)
    slots: list[ReminderSlot] = []
    for days in sorted(set(offsets_days), reverse=True):
        if days > 0:
            fires = _local_shift(due, zone, days=-days)
        else:
            local_due = due.astimezone(zone)
            fires = datetime.combine(local_due.date(), time(0), tzinfo=zone).astimezone(UTC)
        if clock_start <= fires <= now:
            slots.append(ReminderSlot(key=f"d{days}", fires_at=fires))
    if now > due:
        overdue_days = int((now - due) / timedelta(days=1))
        for number in range(overdue_every_days, overdue_days + 1, overdue_every_days):
            slots.append(
                ReminderSlot(key=f"overdue-{number}", fires_at=due + timedelta(days=number))
            )
    return slots


def latest_slot(
    due: datetime,
    clock_start: datetime,
    zone: ZoneInfo,
    now: datetime,
    offsets_days: Sequence[int] = DEFAULT_OFFSETS_DAYS,
    overdue_every_days: int = OVERDUE_EVERY_DAYS,
) -> ReminderSlot | None:
    """The newest slot of :func:`reminder_slots` that has fired by ``now`` (what the scan
    sends), computed without listing the older ones."""
    if now > due:
        whole_days = int((now - due) / timedelta(days=1))
        overdue_days = whole_days - whole_days % overdue_every_days
        if overdue_days >= 1:
            return ReminderSlot(
                key=f"overdue-{overdue_days}", fires_at=due + timedelta(days=overdue_days)
            )
    for days in sorted(set(offsets_days)):
        if days > 0:
            fires = _local_shift(due, zone, days=-days)
        else:
            local_due = due.astimezone(zone)
            fires = datetime.combine(local_due.date(), time(0), tzinfo=zone).astimezone(UTC)
        if fires <= now:
            return ReminderSlot(key=f"d{days}", fires_at=fires) if fires >= clock_start else None
    return None
