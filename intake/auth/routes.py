"""Sign-in and sign-out (filled in by the staff accounts issue)."""

from __future__ import annotations

from flask import redirect, url_for
from flask_login import logout_user
from werkzeug.wrappers import Response

from intake.auth import bp


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    return redirect(url_for("public.landing"))


@bp.get("/login")
def login() -> str:
    return "sign-in comes with the staff accounts issue"
