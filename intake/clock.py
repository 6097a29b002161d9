"""One clock for people: every date and time staff read, on pages and in e-mails.

Times are stored in UTC; people read them in the organisation's time zone
(``settings.org_zone()``), written so that nobody has to guess the zone: the city and the
offset, "31 Jan 2027, 03:09 (Taipei, UTC+8)". Pages wrap it in ``<time>`` with the UTC instant
in ``datetime`` and on hover (``title``). Abbreviations such as "CST" are never used: they name
three different zones.

Relative times ("in 1 day 23 h") keep two units and cut the smaller one off, so 47 hours is
never shown as "1 day": under an hour, minutes; under a day, hours and minutes; from a day on,
days and hours.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_date, get_timezone_location
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from markupsafe import Markup, escape

from intake.services.settings import org_zone


def _locale() -> str:
    return str(get_locale() or "en")


def offset_label(moment: datetime) -> str:
    """ "UTC+8", "UTC+5:30", "UTC-3", or "UTC" at zero offset."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_label(moment: datetime, zone: ZoneInfo, locale: str | None = None) -> str:
    """ "Taipei, UTC+8" (the city in the reader's language); just "UTC" for UTC itself."""
    if zone.key in ("UTC", "Etc/UTC", "Etc/GMT", "GMT"):
        return "UTC"
    return f"{_city(zone.key, locale or _locale())}, {offset_label(moment)}"


def zone_words(zone: ZoneInfo) -> str:
    """The zone as the dates name it now ("Hong Kong, UTC+8"), not its id (Asia/Hong_Kong),
    where a page or a message names the organisation's time zone."""
    return zone_label(datetime.now(UTC).astimezone(zone), zone)


@cache
def _city(zone_key: str, locale: str) -> str:
    """The zone's city in ``locale``: CLDR data that never changes while the process runs,
    looked up once (a page shows one date per row, each with the city)."""
    try:
        return str(get_timezone_location(ZoneInfo(zone_key), locale=locale, return_city=True))
    except (LookupError, ValueError):
        return zone_key.rsplit("/", 1)[-1].replace("_", " ")


@lru_cache(maxsize=4096)
def _day_text(day: date, locale: str) -> str:
    """The date as ``local_text`` writes it, through CLDR once per day and language: a page
    shows a date per row, and Babel's pattern formatting was most of each one's cost."""
    if locale.startswith("en"):
        # Day before month: "31 Jan 2027" cannot be misread on either side of the Atlantic.
        return str(format_date(day, "d MMM y", locale=locale))
    # The locale's own medium date ("2027年1月31日").
    return str(format_date(day, "medium", locale=locale))


def _local_text(moment: datetime, zone: ZoneInfo, locale: str) -> str:
    local = moment.astimezone(zone)
    # A 24-hour clock, in the ASCII digits Babel writes "HH:mm" with in every locale.
    clock_time = f"{local.hour:02d}:{local.minute:02d}"
    separator = ", " if locale.startswith("en") else " "
    return (
        f"{_day_text(local.date(), locale)}{separator}{clock_time} "
        f"({zone_label(local, zone, locale)})"
    )


def local_text(moment: datetime, *, zone: ZoneInfo | None = None, locale: str | None = None) -> str:
    """ "31 Jan 2027, 03:09 (Taipei, UTC+8)" in the reader's language and the org's zone."""
    return _local_text(moment, zone or org_zone(), locale or _locale())


def day_text(day: date, *, locale: str | None = None) -> str:
    """A calendar day as ``local_text`` writes it ("12 Oct 2026", "2026年10月12日"): the
    reports' period reads like every other date on the staff pages."""
    return _day_text(day, locale or _locale())


def local_day_text(
    moment: datetime, *, zone: ZoneInfo | None = None, locale: str | None = None
) -> str:
    """The day ``moment`` falls on in the organisation's zone, as ``day_text`` writes it: for a
    date that needs no hour ("added 6 Dec 2026", "於 2026年12月6日 新增")."""
    return _day_text(moment.astimezone(zone or org_zone()).date(), locale or _locale())


def week_start_text(
    moment: datetime, *, zone: ZoneInfo | None = None, locale: str | None = None
) -> str:
    """The Monday of the week ``moment`` falls in, in the organisation's zone, written as
    ``local_text`` writes a day ("12 Oct 2026", "2026年10月12日"): a week's heading that reads
    the same in every language, where an ISO week code ("2026-W42") says little to anyone."""
    local = moment.astimezone(zone or org_zone())
    return _day_text(local.date() - timedelta(days=local.weekday()), locale or _locale())


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A literal template; Markup.format escapes every argument.
_TIME_TAG = Markup('<time datetime="{}" title="{}">{}</time>')  # noqa: S704


def time_tag(moment: datetime | None, empty: str = "—") -> Markup:
    """``<time datetime="…Z" title="… UTC">31 Jan 2027, 03:09 (Taipei, UTC+8)</time>``."""
    if moment is None:  # before page_time_tag: no zone to look up for nothing to show
        return escape(empty)
    return page_time_tag()(moment)


def page_time_tag(
    zone: ZoneInfo | None = None, locale: str | None = None
) -> Callable[[datetime | None], Markup]:
    """``time_tag`` for the many moments of one page: the organisation's zone and the
    reader's language are looked up once, not once per moment."""
    zone = zone or org_zone()
    locale = locale or _locale()

    def tag(moment: datetime | None, empty: str = "—") -> Markup:
        if moment is None:
            return escape(empty)
        return _TIME_TAG.format(
            iso_utc(moment), utc_text(moment), _local_text(moment, zone, locale)
        )

    return tag


class Words(Protocol):
    """Translations looked up once (an e-mail's language in a worker, a page's): ``gettext``
    and ``ngettext`` as Flask-Babel's do them. Without one, Flask-Babel's own are used."""

    def gettext(self, string: str, **variables: Any) -> str: ...

    def ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> str: ...


class _RequestWords:
    """Flask-Babel's, in the request's language."""

    gettext = staticmethod(_)
    ngettext = staticmethod(ngettext)


def span_text(delta: timedelta, words: Words | None = None) -> str:
    """A duration in two units, the smaller cut off (never rounded up to the bigger one)."""
    say = words or _RequestWords
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        day_part = say.ngettext("%(num)d day", "%(num)d days", days)
        if not hours:
            return day_part
        return say.gettext("%(days)s %(hours)d h", days=day_part, hours=hours)
    if hours:
        return say.gettext("%(hours)d h %(minutes)d min", hours=hours, minutes=mins)
    return say.gettext("%(minutes)d min", minutes=mins)


def relative(moment: datetime, now: datetime, words: Words | None = None) -> str:
    """ "in 1 day 23 h" or "3 days 2 h overdue" (relative to ``now``)."""
    say = words or _RequestWords
    delta = moment - now
    if delta >= timedelta(0):
        return say.gettext("in %(span)s", span=span_text(delta, words))
    return say.gettext("%(span)s overdue", span=span_text(delta, words))
