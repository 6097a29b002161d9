"""Public pages: the landing page, the intake form and receipt follow-up."""

from __future__ import annotations

from flask import render_template

from intake.public import bp


@bp.get("/")
def landing() -> str:
    return render_template("public/landing.html")
