"""Withdrawing a consent from /status with the receipt code (issue 12).

A small route of its own beside the status page: the defender picks one consent on record and
withdraws it. The receipt code is the only proof, as for everything at /status; the request is
throttled like a follow-up, CSRF-checked, and audited as the submitter. A plain form: it works
the same with JavaScript on or off.
"""

from __future__ import annotations

from flask import current_app, flash, request
from flask_babel import gettext as _

from intake.addresses import hashed_address
from intake.extensions import csrf, limiter
from intake.models import Case, ConsentRecord
from intake.public import bp
from intake.public.routes import ViewResult, _csrf_ok, _refuse, _render_status
from intake.services import consent, submissions
from intake.services.consent import ConsentError

FIELDS = frozenset({"csrf_token", "code", "record_id"})
MAX_ID = 2**31 - 1


def _limit() -> str:
    return str(current_app.config.get("FOLLOW_UP_RATE_LIMIT", "10 per hour"))


def _client_key() -> str:
    return hashed_address("pub")


@bp.app_template_global()
def consents_to_withdraw(case: Case) -> list[ConsentRecord]:
    """What the status page offers to withdraw: the consents on record and not withdrawn."""
    return list(consent.active_records(case))


@bp.post("/status/consent/withdraw")
@limiter.limit(_limit, key_func=_client_key)
@csrf.exempt
def withdraw_consent() -> ViewResult:
    form = request.form
    if set(form) - FIELDS or any(len(form.getlist(name)) != 1 for name in form):
        return _refuse(_("The request could not be understood. Nothing was changed."))
    case = submissions.find_case_by_receipt(form.get("code", ""))
    if case is None:
        return _refuse(_("No request has this receipt code. Nothing was changed."), 404)
    if not _csrf_ok():
        return _refuse(_("Your form had expired. Show your status again and retry."), 400)
    raw = form.get("record_id", "")
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        return _refuse(_("Choose a consent from the list. Nothing was changed."))
    try:
        consent.withdraw_by_submitter(case, int(raw), submissions.SUBMITTER)
    except ConsentError as error:
        return _refuse(str(error), error.status)
    flash(_("Your consent was withdrawn. The organisation will not use it again."), "success")
    return _render_status(case, form.get("code", ""))
