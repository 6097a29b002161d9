"""Staff pages for cases."""

from __future__ import annotations

from flask import render_template

from intake.cases import bp
from intake.auth.access import STAFF, role_required


@bp.get("/")
@role_required(*STAFF)
def queue() -> str:
    return render_template("cases/queue.html")
