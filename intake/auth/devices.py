"""Trusted devices: a signed cookie set after a full sign-in (password and second factor).

On such a device the per-account wait after failed attempts does not apply, so an attacker
who hammers a staff address cannot keep its owner out (services.sign_in_throttle). The cookie
names the account and its session epoch: "sign out everywhere" or a password change ends it.

A second cookie marks the browser where an account's password was set (/setup, the invite or
reset link): an account left before its authenticator app was confirmed may set up a new app
after the right password only there. Elsewhere a password alone would have been enough to
take an account that never had a second factor, the first admin's with the organisation key.
"""

from __future__ import annotations

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from intake.models import User
from intake.services import accounts

COOKIE = "refuge_device"
SALT = "refuge-trusted-device-v1"
ENROLMENT_COOKIE = "refuge_enrolment"
ENROLMENT_SALT = "refuge-enrolment-device-v1"
ENROLMENT_DAYS = 30


def _serializer(salt: str = SALT) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _max_age() -> int:
    return int(current_app.config["TRUSTED_DEVICE_DAYS"]) * 86400


def _set(response: Response, name: str, salt: str, user: User, max_age: int) -> None:
    response.set_cookie(
        name,
        _serializer(salt).dumps(accounts.epoch_claim(user)),
        max_age=max_age,
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
        httponly=True,
        samesite="Strict",
    )


def _user_id(name: str, salt: str, max_age: int) -> int | None:
    raw = request.cookies.get(name)
    if not raw or len(raw) > 512:
        return None
    try:
        data = _serializer(salt).loads(raw, max_age=max_age)
    except BadSignature:
        return None
    user = accounts.user_of_claim(data)
    return user.id if user is not None else None


def remember(response: Response, user: User) -> None:
    _set(response, COOKIE, SALT, user, _max_age())


def trusted_user_id() -> int | None:
    """The account this browser completed a sign-in to, if its cookie is still good."""
    return _user_id(COOKIE, SALT, _max_age())


def remember_enrolment(response: Response, user: User) -> None:
    """This browser set ``user``'s password (or set up their new app again at sign-in)."""
    _set(response, ENROLMENT_COOKIE, ENROLMENT_SALT, user, ENROLMENT_DAYS * 86400)


def enrolment_user_id() -> int | None:
    """The account whose password this browser set, if its cookie is still good."""
    return _user_id(ENROLMENT_COOKIE, ENROLMENT_SALT, ENROLMENT_DAYS * 86400)
