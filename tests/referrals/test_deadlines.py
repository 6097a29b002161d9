"""Deadline rules of DESIGN §5 across time zones and DST, and reminder slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from intake.models import ReferralKind
from intake.services.deadlines import (
    DeadlineError,
    add_months,
    due_at,
    latest_slot,
    next_reprisals_cutoff,
    reminder_slots,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TAIPEI = ZoneInfo("Asia/Taipei")


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


@pytest.mark.parametrize("kind", [ReferralKind.SP_URGENT_APPEAL, ReferralKind.SP_ALLEGATION_LETTER])
def test_special_procedures_communications_are_due_60_days_later_at_the_same_local_time(
    kind: ReferralKind,
) -> None:
    # Sent before Berlin's spring change (29 March 2026), due after it.
    sent = local(BERLIN, 2026, 3, 10, 10, 0)
    due = due_at(kind, sent, BERLIN)
    assert due.astimezone(BERLIN) == local(BERLIN, 2026, 5, 9, 10, 0)
    # 60 calendar days but one hour less of elapsed time, because the clocks went forward.
    assert due - sent == timedelta(days=60, hours=-1)
    assert due.tzinfo is not None


def test_draft_legislation_is_due_after_exactly_48_hours_even_across_dst() -> None:
    sent = local(NEW_YORK, 2026, 11, 1, 0, 30)  # the night the clocks go back
    due = due_at(ReferralKind.SP_LEGISLATION, sent, NEW_YORK)
    assert due - sent == timedelta(hours=48)


def test_draft_legislation_may_be_set_longer_never_shorter() -> None:
    sent = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert due_at(ReferralKind.SP_LEGISLATION, sent, TAIPEI, due_hours=96) - sent == timedelta(
        hours=96
    )
    assert due_at(ReferralKind.SP_LEGISLATION, sent, TAIPEI, due_hours=12) - sent == timedelta(
        hours=48
    )
    with pytest.raises(DeadlineError):
        due_at(ReferralKind.SP_LEGISLATION, sent, TAIPEI, due_hours=-5)


def test_wgad_follow_up_is_six_calendar_months_clamped_to_month_end() -> None:
    transmitted = local(TAIPEI, 2026, 8, 31, 9, 0)
    due = due_at(ReferralKind.WGAD_OPINION, transmitted, TAIPEI)
    assert due.astimezone(TAIPEI) == local(TAIPEI, 2027, 2, 28, 9, 0)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("start", "expected_year"),
    [
        ((2026, 1, 10, 12, 0), 2026),
        ((2026, 4, 15, 23, 0), 2026),  # the last evening still counts
        ((2026, 4, 16, 0, 1), 2027),  # missed it: next year's report
        ((2026, 12, 31, 23, 0), 2027),
    ],
)
def test_reprisals_report_is_due_by_the_next_15_april(
    start: tuple[int, ...], expected_year: int
) -> None:
    due = next_reprisals_cutoff(local(BERLIN, *start), BERLIN)
    assert due.astimezone(BERLIN) == local(BERLIN, expected_year, 4, 15, 23, 59, 59)
    assert due_at(ReferralKind.REPRISALS_REPORT, local(BERLIN, *start), BERLIN) == due


def test_ngo_referral_uses_the_entrys_typical_response_time_else_14_days() -> None:
    sent = local(TAIPEI, 2026, 11, 24, 15, 0)
    assert due_at(ReferralKind.NGO_REFERRAL, sent, TAIPEI, response_days=3) == local(
        TAIPEI, 2026, 11, 27, 15, 0
    )
    assert due_at(ReferralKind.NGO_REFERRAL, sent, TAIPEI) == local(TAIPEI, 2026, 12, 8, 15, 0)


def test_embassy_contact_is_due_24_hours_after_the_case_arrived() -> None:
    received = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert due_at(ReferralKind.EMBASSY_CONTACT, received, BERLIN) - received == timedelta(hours=24)


def test_follow_up_period_is_configurable() -> None:
    sent = local(TAIPEI, 2026, 1, 1, 8, 0)
    assert due_at(ReferralKind.FOLLOW_UP, sent, TAIPEI) == local(TAIPEI, 2026, 1, 15, 8, 0)
    assert due_at(ReferralKind.FOLLOW_UP, sent, TAIPEI, follow_up_days=21) == local(
        TAIPEI, 2026, 1, 22, 8, 0
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(DeadlineError, match="timezone-aware"):
        due_at(ReferralKind.SP_URGENT_APPEAL, datetime(2026, 1, 1), BERLIN)  # noqa: DTZ001


def test_reminder_slots_fire_14_7_3_1_days_before_on_the_day_then_daily_while_overdue() -> None:
    """For a caseworker who asked for daily overdue reminders (weekly is the default)."""
    sent = local(BERLIN, 2026, 3, 10, 10, 0)
    due = due_at(ReferralKind.SP_URGENT_APPEAL, sent, BERLIN)  # 9 May 10:00 Berlin

    def keys_at(*moment: int) -> list[str]:
        now = local(BERLIN, *moment)
        return [slot.key for slot in reminder_slots(due, sent, BERLIN, now, overdue_every_days=1)]

    assert keys_at(2026, 4, 25, 9, 59) == []
    assert keys_at(2026, 4, 25, 10, 0) == ["d14"]
    assert keys_at(2026, 5, 2, 10, 0) == ["d14", "d7"]
    assert keys_at(2026, 5, 8, 10, 0) == ["d14", "d7", "d3", "d1"]
    assert keys_at(2026, 5, 9, 0, 0) == ["d14", "d7", "d3", "d1", "d0"]
    assert keys_at(2026, 5, 11, 10, 0)[-2:] == ["overdue-1", "overdue-2"]


def test_overdue_reminders_repeat_weekly_by_default() -> None:
    sent = local(BERLIN, 2026, 3, 10, 10, 0)
    due = due_at(ReferralKind.SP_URGENT_APPEAL, sent, BERLIN)
    slots = reminder_slots(due, sent, BERLIN, local(BERLIN, 2026, 5, 24, 10, 0))
    assert [slot.key for slot in slots if slot.key.startswith("overdue-")] == [
        "overdue-7",
        "overdue-14",
    ]


def test_short_deadlines_get_no_reminders_from_before_their_clock_started() -> None:
    sent = datetime(2026, 6, 1, 12, tzinfo=UTC)
    due = due_at(ReferralKind.SP_LEGISLATION, sent, ZoneInfo("UTC"))
    slots = reminder_slots(due, sent, ZoneInfo("UTC"), due)
    assert [slot.key for slot in slots] == ["d1", "d0"]
    assert all(slot.fires_at >= sent for slot in slots)


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK, TAIPEI, ZoneInfo("UTC")])
@pytest.mark.parametrize("kind", [ReferralKind.SP_URGENT_APPEAL, ReferralKind.SP_LEGISLATION])
def test_latest_slot_is_always_the_newest_of_all_fired_slots(
    zone: ZoneInfo, kind: ReferralKind
) -> None:
    sent = local(zone, 2026, 3, 1, 9, 30)
    due = due_at(kind, sent, zone)
    moment = sent
    while moment < due + timedelta(days=4):
        slots = reminder_slots(due, sent, zone, moment)
        expected = slots[-1] if slots else None
        assert latest_slot(due, sent, zone, moment) == expected, moment
        moment += timedelta(hours=7)
