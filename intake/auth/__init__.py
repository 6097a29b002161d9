from flask import Blueprint

bp = Blueprint("auth", __name__)

from intake.auth import qr, routes  # noqa: E402,F401
