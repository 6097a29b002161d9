"""Staff pages for reports."""

from __future__ import annotations

from flask import render_template

from intake.reports import bp
from intake.auth.access import STAFF, role_required


@bp.get("/")
@role_required(*STAFF)
def index() -> str:
    return render_template("reports/index.html")
