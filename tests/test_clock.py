"""One clock for people (intake.clock): the words, the zone, and relative-time boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask_babel import force_locale

from intake import clock

NOW = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
TAIPEI = ZoneInfo("Asia/Taipei")
INSTANT = datetime(2027, 1, 30, 19, 9, tzinfo=UTC)


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.test_request_context():
        yield


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(minutes=59, seconds=59), "in 59 min"),
        (timedelta(hours=1), "in 1 h 0 min"),
        (timedelta(hours=23, minutes=59), "in 23 h 59 min"),
        (timedelta(hours=24), "in 1 day"),
        (timedelta(hours=25), "in 1 day 1 h"),
        # The bug of issue 11: 47 hours was "1 d". Never a whole day lost.
        (timedelta(hours=47), "in 1 day 23 h"),
        (timedelta(hours=47, minutes=59), "in 1 day 23 h"),
        (timedelta(hours=48), "in 2 days"),
        (timedelta(days=6, hours=23), "in 6 days 23 h"),
        (timedelta(0), "in 0 min"),
        (-timedelta(minutes=1), "1 min overdue"),
        (-timedelta(hours=47), "1 day 23 h overdue"),
        (-timedelta(days=3, hours=2), "3 days 2 h overdue"),
    ],
)
def test_relative_times_keep_two_units_and_never_round_47_hours_to_a_day(
    ctx: None, delta: timedelta, words: str
) -> None:
    assert clock.relative(NOW + delta, NOW) == words


def test_relative_times_in_traditional_chinese(ctx: None) -> None:
    with force_locale("zh_Hant"):
        text = clock.relative(NOW + timedelta(hours=47), NOW)
    assert "1" in text
    assert "23" in text
    assert "in " not in text  # translated, not English


def test_a_time_is_written_with_city_and_offset_in_the_readers_language(ctx: None) -> None:
    assert clock.local_text(INSTANT, zone=TAIPEI, locale="en") == (
        "31 Jan 2027, 03:09 (Taipei, UTC+8)"
    )
    assert clock.local_text(INSTANT, zone=TAIPEI, locale="zh_Hant") == (
        "2027年1月31日 03:09 (台北, UTC+8)"
    )
    assert clock.local_text(INSTANT, zone=ZoneInfo("UTC"), locale="en") == (
        "30 Jan 2027, 19:09 (UTC)"
    )
    assert "UTC+5:30" in clock.local_text(INSTANT, zone=ZoneInfo("Asia/Kolkata"), locale="en")
    assert "UTC-6" in clock.local_text(INSTANT, zone=ZoneInfo("America/Mexico_City"), locale="en")


def test_the_time_tag_carries_the_utc_instant_and_utc_on_hover(ctx: None, app: Flask) -> None:
    app.config["ORG_TIMEZONE"] = "Asia/Taipei"
    tag = str(clock.time_tag(INSTANT))
    assert tag == (
        '<time datetime="2027-01-30T19:09:00Z" title="2027-01-30 19:09 UTC">'
        "31 Jan 2027, 03:09 (Taipei, UTC+8)</time>"
    )
