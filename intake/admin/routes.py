"""Staff pages for admin."""

from __future__ import annotations

from flask import render_template

from intake.admin import bp
from intake.auth.access import ADMINS, role_required


@bp.get("/")
@role_required(*ADMINS)
def index() -> str:
    return render_template("admin/index.html")
