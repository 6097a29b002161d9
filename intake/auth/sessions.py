"""What a completed sign-in leaves in the session, and the idle / absolute time-outs.

A sign-in throws the old session away (``session.clear()``) before ``login_user``: whatever an
attacker planted in a cookie before sign-in is gone, and Flask's signed cookie is new.
"""

from __future__ import annotations

import time

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from intake.models import User

LOGIN_AT = "login_at"
SEEN_AT = "seen_at"
OFFER_UNLOCK = "offer_unlock"
PENDING = "pending_login"


def start_session(user: User) -> None:
    lang = session.get("lang")
    session.clear()
    session.permanent = True
    login_user(user)
    now = int(time.time())
    session[LOGIN_AT] = now
    session[SEEN_AT] = now
    session[OFFER_UNLOCK] = True
    if lang:
        session["lang"] = lang


def end_session() -> None:
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang


def _expired(now: int) -> str | None:
    config = current_app.config
    login_at = session.get(LOGIN_AT)
    seen_at = session.get(SEEN_AT)
    if not isinstance(login_at, int) or not isinstance(seen_at, int):
        return "absolute"
    absolute = int(config["PERMANENT_SESSION_LIFETIME"].total_seconds())
    if now - login_at > absolute:
        return "absolute"
    if now - seen_at > int(config.get("SESSION_IDLE_MINUTES", 30)) * 60:
        return "idle"
    return None


def enforce_timeouts() -> Response | None:
    """Before each request of a signed-in user: sign out after idle or absolute time-out."""
    # Each request reads the user and the CSRF token from its own cookie. (``g`` outlives a
    # request when an application context is already pushed, as in the test suite.)
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    now = int(time.time())
    reason = _expired(now)
    if reason is None:
        session[SEEN_AT] = now
        return None
    end_session()
    if reason == "idle":
        flash(_("You were signed out after a period of inactivity. Please sign in again."), "error")
    else:
        flash(_("Your session has ended. Please sign in again."), "error")
    if request.method == "GET" and not request.path.startswith("/auth/keyring"):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return redirect(url_for("auth.login"))
