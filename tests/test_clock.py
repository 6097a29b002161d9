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


@pytest.mark.parametrize("locale", ["en", "zh_Hant", "zh_Hans", "es", "fr", "ru", "ar"])
def test_local_text_writes_what_babels_patterns_write(locale: str) -> None:
    """The date through CLDR once per day, the clock written directly: the same text as
    Babel's "d MMM y, HH:mm" (English) or medium date and "HH:mm" (others), across offsets,
    half-hour zones and daylight-saving changes."""
    from babel.dates import format_date, format_datetime, format_time

    zones = [ZoneInfo(name) for name in ("UTC", "Asia/Taipei", "Asia/Kolkata", "Europe/London")]
    moment = datetime(2026, 3, 28, 22, 59, tzinfo=UTC)
    for step in range(400):
        moment += timedelta(hours=7, minutes=13)
        zone = zones[step % len(zones)]
        local = moment.astimezone(zone)
        if locale == "en":
            stamp = format_datetime(local, "d MMM y, HH:mm", tzinfo=zone, locale=locale)
        else:
            day = format_date(local.date(), "medium", locale=locale)
            stamp = f"{day} {format_time(local, 'HH:mm', tzinfo=zone, locale=locale)}"
        expected = f"{stamp} ({clock.zone_label(local, zone, locale)})"
        assert clock.local_text(moment, zone=zone, locale=locale) == expected


def test_a_pages_time_tags_are_the_time_tag_filters(app: Flask) -> None:
    for lang in ("en", "zh_Hant"):
        with app.test_request_context(f"/?lang={lang}"), force_locale(lang):
            tag = clock.page_time_tag()
            for moment in (INSTANT, INSTANT + timedelta(days=200, minutes=7), None):
                assert tag(moment) == clock.time_tag(moment)
