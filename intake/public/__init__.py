from flask import Blueprint

bp = Blueprint("public", __name__)

from intake.public import consent, routes  # noqa: E402,F401
