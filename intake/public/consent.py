"""Withdrawing a consent from /status with the receipt code (issue 12).

A small route of its own beside the status page: the defender picks one consent on record, is
asked to confirm, and withdraws it. Both steps post to the same route (the first without
``confirmed``, which only shows what would change; the second with it), so the flow is the
same with JavaScript on or off and never rests on ``window.confirm``. The receipt code is the
only proof, as for everything at /status; a withdrawal counts once against the follow-up
limit (its confirmed post; any refused post counts too), is CSRF-checked, and is audited as
the submitter.

Afterwards the status page still lists every consent, withdrawn ones marked as such: a consent
is given again by a message to the organisation, which a caseworker records (the status page
has no way to grant one; ``services.consent.record`` is the staff's).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from intake.addresses import hashed_address
from intake.extensions import csrf, limiter
from intake.models import Case, ConsentPurpose, ConsentRecord
from intake.public import bp
from intake.public.routes import ViewResult, _csrf_ok, _refuse, _render_status
from intake.services import consent, submissions
from intake.services.consent import ConsentError

FIELDS = frozenset({"csrf_token", "code", "record_id", "confirmed", "browser_opens"})
CONFIRMED = "yes"
MAX_ID = 2**31 - 1

# How the defender reads each purpose at /status.
PURPOSE_LABELS: dict[ConsentPurpose, Any] = {
    ConsentPurpose.SHARE_WITH_ORGANISATION: _l(
        "Sharing your request with an organisation that can help"
    ),
    ConsentPurpose.UN_SUBMISSION: _l("Sending it to a UN human rights mechanism"),
    ConsentPurpose.REPRISALS_REPORT: _l(
        "Including it in the UN Secretary-General's report on reprisals"
    ),
    ConsentPurpose.PUBLICATION: _l("Publishing it"),
}


def _limit() -> str:
    return str(current_app.config["FOLLOW_UP_RATE_LIMIT"])


def _client_key() -> str:
    return hashed_address("pub")


def _counted(response: Any) -> bool:
    """A withdrawal counts once against the limit: its confirmed post, or any refusal (a
    wrong code is a guess). The question before it only shows what would change."""
    return request.form.get("confirmed") == CONFIRMED or response.status_code >= 400


@bp.app_template_global()
def consents_on_record(case: Case) -> list[ConsentRecord]:
    """What the status page lists: every consent on record, withdrawn ones too (marked), so
    the defender still sees what they withdrew."""
    return consent.records(case)


@bp.app_template_global()
def consent_purpose_label(record: ConsentRecord) -> Any:
    return PURPOSE_LABELS[record.purpose]


@bp.post("/status/consent/withdraw")
@limiter.limit(_limit, key_func=_client_key, deduct_when=_counted)
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
        if form.get("confirmed") != CONFIRMED:
            record = consent.withdrawable(case, int(raw))
            return render_template(
                "public/consent_withdraw_confirm.html",
                record=record,
                code=form.get("code", ""),
                confirmed=CONFIRMED,
            ), 200
        consent.withdraw_by_submitter(case, int(raw), submissions.SUBMITTER)
    except consent.AlreadyWithdrawn:
        # Most often a reload of the page shown after withdrawing (the post again): the
        # status page as it is, with a notice, not an error page that leads away from it.
        flash(_("This consent was already withdrawn. Nothing was changed."), "info")
        return _render_status(case, form.get("code", ""))
    except ConsentError as error:
        return _refuse(str(error), error.status)
    flash(_("Your consent was withdrawn. The organisation will not use it again."), "success")
    return _render_status(case, form.get("code", ""))
