"""Who may do what: Flask-Login's user loader and the role gate used on every staff route."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from flask import abort, g, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from intake.auth.sessions import END_REASON, SID
from intake.db import utcnow
from intake.extensions import db, login_manager
from intake.models import Role, StaffSession, User
from intake.services import settings as org_settings
from intake.services import staff_sessions

P = ParamSpec("P")
R = TypeVar("R")

login_manager.login_view = "auth.login"
# Flask-Login's own "Please log in to access this page." is English on every page.
login_manager.login_message = _l("Sign in to open this page.")
# Flask-Login's "strong" protection deletes a session whose IP/User-Agent hash changed, but only
# for non-permanent sessions: ours are permanent (they carry an expiry), for which it merely
# marks the session "not fresh", and nothing here asks for freshness. It would only have looked
# like protection. What binds a cookie to a live sign-in is the ``staff_sessions`` row below.
login_manager.session_protection = None


def _refuse(record: StaffSession | None, reason: str) -> None:
    """Remember why this request is not signed in (for the message), and end the row."""
    g.setdefault(END_REASON, reason)
    if record is not None:
        staff_sessions.revoke(record)
        db.session.commit()


@cache
def _settings_columns() -> list[sa.Label[str | None]]:
    return org_settings.snapshot_columns()


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The signed-in user, only if the cookie names an open ``staff_sessions`` row of theirs
    within the idle and absolute time-outs, and the account has not changed since."""
    user_id, _, epoch = session_id.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and epoch.isascii() and epoch.isdigit()):
        return None
    if len(user_id) > 10 or len(epoch) > 10:
        return None
    # The settings every staff page reads (its dates' zone, the profile in its frame) come
    # with the session row: one statement rather than three.
    found = staff_sessions.find_with_user(session.get(SID), *_settings_columns())
    if found is None or found[0].user_id != int(user_id):
        _refuse(None, "revoked")
        return None
    record, user, row = found
    org_settings.remember_snapshot(row._mapping)
    now = utcnow()
    reason = staff_sessions.problem(record, now)
    if reason is not None:
        _refuse(record, reason)
        return None
    if user is None or user.session_epoch != int(epoch) or not user.is_active:
        _refuse(record, "revoked")
        return None
    if staff_sessions.touch(record, now):
        db.session.commit()
    return user


def role_required(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Sign-in required, and one of ``roles``; anyone else gets 403."""
    allowed = set(roles)

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        # Read by the authorisation matrix test: which roles this route lets in.
        wrapped.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return login_required(wrapped)

    return decorator


STAFF = (Role.ADMIN, Role.CASEWORKER, Role.VIEWER)
CASE_WRITERS = (Role.ADMIN, Role.CASEWORKER)
ADMINS = (Role.ADMIN,)
