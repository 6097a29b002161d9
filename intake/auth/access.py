"""Who may do what: Flask-Login's user loader and the role gate used on every staff route."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from flask import abort
from flask_login import current_user, login_required

from intake.extensions import db, login_manager
from intake.models import Role, User

P = ParamSpec("P")
R = TypeVar("R")

login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, epoch = session_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = db.session.scalar(sa.select(User).where(User.id == int(user_id)))
    if user is None or user.session_epoch != int(epoch) or not user.is_active:
        return None
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
