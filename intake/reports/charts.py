"""Charts for the reports page: server-rendered SVG, no JavaScript (issue 12).

Each chart is drawn from the rows of a table of :mod:`intake.reports.tables`, so it shows
exactly what the table shows, small-number suppression included: a suppressed count ("<5") is
drawn with no bar and its marker, never as a length that would give the number away. An SVG is
``role="img"`` with a ``<title>`` and a ``<desc>`` and sits beside (or links to) its table, so a
screen reader gets the numbers as text. The ``viewBox`` is 360 wide, the narrowest phone: the
SVG scales up with the page and its text stays readable at 360 px.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from flask_babel import gettext as _
from flask_babel import pgettext
from markupsafe import Markup

from intake.i18n import sentences
from intake.reports.tables import Row, Table
from intake.services.reports import SUPPRESSED

WIDTH = 360
SERIES_HEIGHT = 12
LABEL_GAP = 15
VALUE_ROOM = 56  # space kept right of the longest bar for its number
COLOURS = ("#1d5fa6", "#b35c00")  # AA contrast on white; told apart by the legend too


@dataclass
class Series:
    name: str
    values: list[int | float | str]


@dataclass
class Chart:
    key: str
    title: str
    description: str
    labels: list[str]
    series: list[Series]
    table_id: str | None = None  # the table with the same numbers, when there is one
    rows: list[list[str]] = field(default_factory=list)  # a table of its own otherwise


def _number(value: int | float | str) -> float | None:
    if isinstance(value, bool | str):
        return None
    return float(value)


def _text(value: int | float | str) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def svg(chart: Chart) -> Markup:
    """The chart as an accessible SVG element (bars per label; one bar per series)."""
    numbers = [n for s in chart.series for v in s.values if (n := _number(v)) is not None]
    top = max(numbers, default=0.0) or 1.0
    per_row = LABEL_GAP + SERIES_HEIGHT * len(chart.series) + 6
    legend = 22 if len(chart.series) > 1 else 0
    height = legend + per_row * len(chart.labels) + 4
    title_id, desc_id = f"chart-{chart.key}-title", f"chart-{chart.key}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{title_id} {desc_id}" id="chart-{chart.key}">',
        f'<title id="{title_id}">{escape(chart.title)}</title>',
        f'<desc id="{desc_id}">{escape(chart.description)}</desc>',
    ]
    if legend:
        x = 0
        for index, series in enumerate(chart.series):
            colour = COLOURS[index % len(COLOURS)]
            parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>')
            parts.append(f'<text x="{x + 16}" y="14" font-size="13">{escape(series.name)}</text>')
            x += 16 + 9 * len(series.name) + 16
    room = WIDTH - VALUE_ROOM
    for row, label in enumerate(chart.labels):
        y = legend + row * per_row
        parts.append(f'<text x="0" y="{y + 12}" font-size="13">{escape(label)}</text>')
        for index, series in enumerate(chart.series):
            value = series.values[row]
            bar_y = y + LABEL_GAP + index * SERIES_HEIGHT
            number = _number(value)
            length = 0 if number is None else round(room * number / top, 1)
            colour = COLOURS[index % len(COLOURS)]
            if length > 0:
                parts.append(
                    f'<rect x="0" y="{bar_y}" width="{length}" height="{SERIES_HEIGHT - 2}" '
                    f'fill="{colour}"/>'
                )
            marker = f' data-value="{_attr(_text(value))}"'
            marker += ' data-suppressed="1"' if value == SUPPRESSED else ""
            parts.append(
                f'<text x="{length + 4}" y="{bar_y + SERIES_HEIGHT - 3}" font-size="11"{marker}>'
                f"{escape(_text(value))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 — every text above went through escape()


def _describe(title: str, rows: Sequence[Row]) -> str:
    exact = [row for row in rows if isinstance(row.value, int)]
    suppressed = sum(1 for row in rows if row.value == SUPPRESSED)
    said = [_("Bar chart: %(title)s.", title=title)]
    if exact:
        largest = max(exact, key=lambda row: row.value)
        said.append(_("Largest: %(label)s, %(value)s.", label=largest.label, value=largest.value))
    if suppressed:
        said.append(
            _(
                "%(count)d bars are counts from 1 to 4, shown as “%(marker)s”.",
                count=suppressed,
                marker=SUPPRESSED,
            )
        )
    return sentences(*said, _("The numbers are in the table that follows."))


def from_table(table: Table, title: str | None = None) -> Chart:
    """One bar per row of a report table, with the table's values (suppression included)."""
    rows = list(table.rows)
    return Chart(
        key=table.key,
        title=title or table.title,
        description=_describe(title or table.title, rows),
        labels=[row.label for row in rows],
        series=[Series(table.value_header, [row.value for row in rows])],
        table_id=f"table-{table.key}",
    )


def year_on_year(
    this: Table, last: Table, this_name: str, last_name: str, month_names: Sequence[str]
) -> Chart:
    """Requests per month, this year beside last year (rows of the two per-month tables)."""

    def values(table: Table) -> list[int | float | str]:
        found: list[int | float | str] = [row.value for row in table.rows]
        # Months still to come this year have no count yet: no bar, not a zero.
        return found + ["—"] * (len(month_names) - len(found))

    this_values, last_values = values(this), values(last)
    title = _("Requests per month, %(this)s and %(last)s", this=this_name, last=last_name)
    rows = [
        [month, _text(a), _text(b)]
        for month, a, b in zip(month_names, this_values, last_values, strict=True)
    ]
    return Chart(
        key="year_on_year",
        title=title,
        description=sentences(
            _("Bar chart: %(title)s, two bars per month.", title=title),
            _("The numbers are in the table that follows."),
        ),
        labels=list(month_names),
        series=[Series(this_name, this_values), Series(last_name, last_values)],
        rows=rows,
    )


def medians(points: Sequence[tuple[str, float | None]]) -> Chart:
    """Median days from request to first referral sent, one bar per year."""
    title = _("Median days from request to first referral sent")
    values: list[int | float | str] = [value if value is not None else "—" for _n, value in points]
    return Chart(
        key="median_days",
        title=title,
        description=sentences(
            _("Bar chart: %(title)s, by year.", title=title),
            _("The numbers are in the table that follows."),
        ),
        labels=[name for name, _v in points],
        # "Days" alone is the urgency label ("within days"): this one is a count of days.
        series=[Series(pgettext("a number of days", "Days"), values)],
        rows=[
            [name, _text(value)]
            for name, value in zip([n for n, _v in points], values, strict=True)
        ],
    )
