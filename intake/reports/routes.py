"""Staff page for reports: the figures of an annual report for a chosen period, and a CSV.

Every figure comes from routing fields and workflow state (intake.services.reports); nothing
is decrypted. The page works without JavaScript: the period is chosen with links and a GET
form, and a bad query string gets a message (400), never a server error.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from babel.dates import format_skeleton
from flask import Response, render_template, request, url_for
from flask_babel import get_locale

from intake.auth.access import STAFF, role_required
from intake.db import utcnow
from intake.i18n import sentences
from intake.reports import bp, charts
from intake.reports.forms import PERIOD_LABELS, PeriodForm
from intake.reports.tables import Table, build_tables, csv_rows
from intake.services import reports
from intake.services.reports import SUPPRESSED, Period
from intake.services.settings import org_zone
from intake.web import error_response

PageResponse = str | tuple[Response | str, int] | Response


def _period_args(period: Period) -> dict[str, Any]:
    if period.kind in ("this_year", "last_year"):
        return {"period": period.kind}
    return {"period": "custom", "from": period.start.isoformat(), "to": period.end.isoformat()}


def _charts(
    period: Period,
    report: reports.Report,
    tables: dict[str, Table],
    this_year: Period,
    last_year: Period,
    now: Any,
) -> list[charts.Chart]:
    """The page's charts, drawn from the same table rows the page and the CSV show; year on
    year always compares this calendar year with the last (one more report each)."""

    def yearly(year_period: Period) -> tuple[reports.Report, dict[str, Table]]:
        if year_period == period:
            return report, tables
        built = reports.build_report(year_period, now)
        return built, {table.key: table for table in build_tables(built)}

    (this_report, this_tables), (last_report, last_tables) = yearly(this_year), yearly(last_year)
    drawn = [
        charts.from_table(tables[key])
        for key in ("per_month", "threats", "urgency", "referral_state")
        if tables[key].rows
    ]
    drawn.append(
        charts.year_on_year(
            this_tables["per_month"],
            last_tables["per_month"],
            str(this_year.start.year),
            str(last_year.start.year),
            [
                format_skeleton("MMM", month.first_day, locale=str(get_locale() or "en"))
                for month in last_year.months()
            ],
        )
    )
    drawn.append(
        charts.medians(
            [
                (str(last_year.start.year), last_report.cases.median_days_to_referral),
                (str(this_year.start.year), this_report.cases.median_days_to_referral),
            ]
        )
    )
    return drawn


@bp.get("/")
@role_required(*STAFF)
def index() -> PageResponse:
    zone, now = org_zone(), utcnow()
    form = PeriodForm(formdata=request.args)
    period = form.resolve(zone, now)
    this_year, last_year = reports.this_year(zone, now), reports.last_year(zone, now)
    context = {
        "form": form,
        "choice": form.chosen(),
        "period_labels": PERIOD_LABELS,
        "this_year": this_year,
        "last_year": last_year,
        "zone": zone,
        "marker": SUPPRESSED,
    }
    if period is None:
        return render_template("reports/index.html", report=None, **context), 400
    report = reports.build_report(period, now)
    tables = {table.key: table for table in build_tables(report)}
    return render_template(
        "reports/index.html",
        report=report,
        period=period,
        tables=tables,
        charts=_charts(period, report, tables, this_year, last_year, now),
        chart_svg=charts.svg,
        export_url=url_for("reports.export", **_period_args(period)),
        **context,
    )


@bp.get("/export.csv")
@role_required(*STAFF)
def export() -> PageResponse:
    form = PeriodForm(formdata=request.args)
    period = form.resolve(org_zone(), utcnow())
    if period is None:
        return error_response(400, sentences(*form.messages))
    report = reports.build_report(period)
    buffer = io.StringIO()
    # A byte-order mark so that spreadsheet programs read the Chinese labels as UTF-8.
    buffer.write("\ufeff")
    csv.writer(buffer, lineterminator="\r\n").writerows(csv_rows(report, build_tables(report)))
    filename = f"refuge-report-{period.start.isoformat()}-to-{period.end.isoformat()}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
