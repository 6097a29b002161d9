"""The period selector of the reports page: this year, last year or a date range (GET).

The query string is read by hand-written rules rather than trusted: dates must be
``YYYY-MM-DD`` between 1990 and 2100, the start on or before the end, at most ten years apart.
Anything else gives a message in the user's language and no report, never a server error.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField

from intake.forms import StaffForm
from intake.services import reports
from intake.services.reports import Period

PERIOD_LABELS = {
    "this_year": _l("This year"),
    "last_year": _l("Last year"),
    "custom": _l("Date range"),
}
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_FIELD = 32


def parse_day(raw: str | None) -> date | None:
    """A strict ISO date (``2025-12-31``) or None."""
    text = (raw or "").strip()
    if len(text) > MAX_FIELD or not DATE_PATTERN.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class PeriodForm(StaffForm):
    """Read from the query string: ``?period=this_year|last_year|custom&from=…&to=…``."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    period = HiddenField()
    start = StringField(_l("First day"), name="from")
    end = StringField(_l("Last day (included)"), name="to")

    def chosen(self) -> str:
        choice = (self.period.data or "").strip()
        if not choice:
            return "custom" if (self.start.data or self.end.data) else "this_year"
        return choice

    def resolve(self, zone: ZoneInfo, now: datetime) -> Period | None:
        """The period asked for, or None with messages on the fields."""
        self.start.errors, self.end.errors, self.period.errors = [], [], []
        choice = self.chosen()
        if choice == "this_year":
            return reports.this_year(zone, now)
        if choice == "last_year":
            return reports.last_year(zone, now)
        if choice != "custom":
            self.period.errors.append(_l("Choose this year, last year or a date range."))
            return None
        start, end = parse_day(self.start.data), parse_day(self.end.data)
        for field, day in ((self.start, start), (self.end, end)):
            if day is None and DATE_PATTERN.fullmatch(str(field.data or "").strip()[:MAX_FIELD]):
                # Well formed, but no such day (2026-02-30): "enter a date as YYYY-MM-DD" was
                # what had been done (a review).
                field.errors.append(_l("There is no such day in the calendar."))
            elif day is None:
                field.errors.append(_l("Enter a date as YYYY-MM-DD, for example 2025-12-31."))
            elif not reports.MIN_YEAR <= day.year <= reports.MAX_YEAR:
                field.errors.append(
                    _l(
                        "Enter a date between %(first)s and %(last)s.",
                        first=reports.MIN_YEAR,
                        last=reports.MAX_YEAR,
                    )
                )
        if self.start.errors or self.end.errors or start is None or end is None:
            return None
        if start > end:
            self.end.errors.append(_l("The end date must be on or after the start date."))
            return None
        if (end - start).days + 1 > reports.MAX_SPAN_DAYS:
            self.end.errors.append(_l("A report can cover at most ten years."))
            return None
        return Period(start, end, zone, "custom")

    @property
    def messages(self) -> list[str]:
        return [str(m) for f in (self.period, self.start, self.end) for m in f.errors]
