from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from intake.admin import delivery, routes  # noqa: E402,F401
