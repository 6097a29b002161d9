"""Staff page for reports: the figures of an annual report for a chosen period, and a CSV.

Every figure comes from routing fields and workflow state (intake.services.reports); nothing
is decrypted. The page works without JavaScript: the period is chosen with links and a GET
form, and a bad query string gets a message (400), never a server error.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, render_template, request, url_for

from intake.auth.access import STAFF, role_required
from intake.db import utcnow
from intake.reports import bp
from intake.reports.forms import PERIOD_LABELS, PeriodForm
from intake.reports.tables import build_tables, csv_rows
from intake.services import reports
from intake.services.reports import SUPPRESSED, Period
from intake.services.settings import org_zone
from intake.web import error_response

PageResponse = str | tuple[Response | str, int] | Response


def _period_args(period: Period) -> dict[str, Any]:
    if period.kind in ("this_year", "last_year"):
        return {"period": period.kind}
    return {"period": "custom", "from": period.start.isoformat(), "to": period.end.isoformat()}


@bp.get("/")
@role_required(*STAFF)
def index() -> PageResponse:
    zone, now = org_zone(), utcnow()
    form = PeriodForm(formdata=request.args)
    period = form.resolve(zone, now)
    context = {
        "form": form,
        "choice": form.chosen(),
        "period_labels": PERIOD_LABELS,
        "this_year": reports.this_year(zone, now),
        "last_year": reports.last_year(zone, now),
        "zone": zone,
        "marker": SUPPRESSED,
    }
    if period is None:
        return render_template("reports/index.html", report=None, **context), 400
    report = reports.build_report(period, now)
    return render_template(
        "reports/index.html",
        report=report,
        period=period,
        tables={table.key: table for table in build_tables(report)},
        export_url=url_for("reports.export", **_period_args(period)),
        **context,
    )


@bp.get("/export.csv")
@role_required(*STAFF)
def export() -> PageResponse:
    form = PeriodForm(formdata=request.args)
    period = form.resolve(org_zone(), utcnow())
    if period is None:
        return error_response(400, " ".join(form.messages))
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
