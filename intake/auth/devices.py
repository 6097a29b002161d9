"""Trusted devices: a signed cookie set after a full sign-in (password and second factor).

On such a device the per-account wait after failed attempts does not apply, so an attacker
who hammers a staff address cannot keep its owner out (services.sign_in_throttle). The cookie
names the account and its session epoch: "sign out everywhere" or a password change ends it.
"""

from __future__ import annotations

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from intake.models import User
from intake.services import accounts

COOKIE = "refuge_device"
SALT = "refuge-trusted-device-v1"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _max_age() -> int:
    return int(current_app.config.get("TRUSTED_DEVICE_DAYS", 90)) * 86400


def remember(response: Response, user: User) -> None:
    response.set_cookie(
        COOKIE,
        _serializer().dumps(accounts.epoch_claim(user)),
        max_age=_max_age(),
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE", True)),
        httponly=True,
        samesite="Strict",
    )


def trusted_user_id() -> int | None:
    """The account this browser completed a sign-in to, if its cookie is still good."""
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 512:
        return None
    try:
        data = _serializer().loads(raw, max_age=_max_age())
    except BadSignature:
        return None
    user = accounts.user_of_claim(data)
    return user.id if user is not None else None
