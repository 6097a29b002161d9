"""Periods are whole local days in the organisation's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from intake.services.reports import Period, last_year, this_year, year_period

TAIPEI = ZoneInfo("Asia/Taipei")
LONDON = ZoneInfo("Europe/London")


def test_this_year_follows_the_organisations_clock() -> None:
    # 16:30 UTC on 31 December 2025 is already 00:30 on 1 January 2026 in Taipei.
    now = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)
    assert this_year(TAIPEI, now).start == date(2026, 1, 1)
    assert last_year(TAIPEI, now).start == date(2025, 1, 1)
    assert this_year(ZoneInfo("UTC"), now).start == date(2025, 1, 1)


def test_year_bounds_in_utc() -> None:
    period = year_period(2025, TAIPEI)
    assert period.start_utc == datetime(2024, 12, 31, 16, 0, tzinfo=UTC)
    assert period.end_utc == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)


def test_months_across_summer_time() -> None:
    months = year_period(2025, LONDON).months()
    assert len(months) == 12
    march, april = months[2], months[3]
    assert march.start_utc == datetime(2025, 3, 1, 0, 0, tzinfo=UTC)  # GMT
    assert march.end_utc == april.start_utc == datetime(2025, 3, 31, 23, 0, tzinfo=UTC)  # BST
    assert months[-1].end_utc == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    # Months tile the year without gaps or overlaps.
    for before, after in zip(months, months[1:], strict=False):
        assert before.end_utc == after.start_utc


def test_partial_months_of_a_custom_range() -> None:
    months = Period(date(2025, 1, 20), date(2025, 3, 5), TAIPEI).months()
    assert [(m.year, m.month) for m in months] == [(2025, 1), (2025, 2), (2025, 3)]
    assert months[0].start_utc == datetime(2025, 1, 19, 16, 0, tzinfo=UTC)
    assert months[-1].end_utc == datetime(2025, 3, 5, 16, 0, tzinfo=UTC)
