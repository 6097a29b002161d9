from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases")

from intake.cases import consent, routes  # noqa: E402,F401
