from flask import Blueprint

bp = Blueprint("auth", __name__)

from intake.auth import passkeys, qr, recover, routes, second_factor  # noqa: E402,F401
