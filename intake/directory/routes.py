"""Staff pages for directory."""

from __future__ import annotations

from flask import render_template

from intake.directory import bp
from intake.auth.access import STAFF, role_required


@bp.get("/")
@role_required(*STAFF)
def index() -> str:
    return render_template("directory/index.html")
