"""Consent on the case page: a caseworker records or withdraws consent (issue 12).

One POST per action; the service (intake.services.consent) checks, writes and audits. Only
fixed choices and a date are sent: nothing about the person is typed here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import DateField, HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Optional

from intake import vocab
from intake.auth.access import CASE_WRITERS, role_required
from intake.cases import bp
from intake.cases.routes import PageResponse, _case_or_404, _done, _refused
from intake.db import utcnow
from intake.forms import StaffForm
from intake.labels import CONSENT_CHANNEL_LABELS, CONSENT_GIVER_LABELS, CONSENT_PURPOSE_LABELS
from intake.models import Case, ConsentChannel, ConsentGiver, ConsentPurpose
from intake.services import consent
from intake.services.consent import ConsentError
from intake.services.settings import org_zone

FIELDS = {"csrf_token", "purpose", "entry_id", "given_by", "given_via", "given_on"}
WITHDRAW_FIELDS = {"csrf_token", "withdrawn_by", "withdrawn_via"}


def _choices(values: Any, labels: dict[Any, Any]) -> list[SelectChoice]:
    return [SelectChoice(value.value, labels[value]) for value in values]


class RecordConsentForm(StaffForm):
    purpose = SelectField(
        _l("Consent to"),
        choices=_choices(ConsentPurpose, CONSENT_PURPOSE_LABELS),
        validators=[InputRequired()],
    )
    entry_id = SelectField(
        _l("Only this organisation (optional)"), choices=[], validate_choice=False
    )
    given_by = SelectField(
        _l("Given by"),
        choices=_choices(consent.STAFF_GIVERS, CONSENT_GIVER_LABELS),
        validators=[InputRequired()],
    )
    given_via = SelectField(
        _l("How"),
        choices=_choices(consent.STAFF_CHANNELS, CONSENT_CHANNEL_LABELS),
        validators=[InputRequired()],
    )
    given_on = DateField(_l("On (leave empty for today)"), validators=[Optional()])


class WithdrawConsentForm(StaffForm):
    withdrawn_by = SelectField(
        _l("Withdrawn by"),
        choices=_choices(consent.STAFF_GIVERS, CONSENT_GIVER_LABELS),
        validators=[InputRequired(), AnyOf([g.value for g in consent.STAFF_GIVERS])],
    )
    withdrawn_via = SelectField(
        _l("How"),
        choices=_choices(consent.STAFF_CHANNELS, CONSENT_CHANNEL_LABELS),
        validators=[InputRequired(), AnyOf([c.value for c in consent.STAFF_CHANNELS])],
    )
    record_id = HiddenField()


def _moment(day: date | None) -> datetime:
    """A chosen day, as noon in the organisation's zone (today: now)."""
    zone = org_zone()
    now = utcnow()
    if day is None or day == now.astimezone(zone).date():
        return now
    return datetime.combine(day, time(12), zone).astimezone(UTC)


def page_context(case: Case) -> dict[str, Any]:
    """What the case page's consent section needs (see cases/_consent.html)."""
    form = RecordConsentForm()
    names = {entry.id: vocab.entry_name(entry) for entry in consent.entries_to_name()}
    form.entry_id.choices = [SelectChoice("", _("Any organisation"))] + [
        SelectChoice(entry_id, name) for entry_id, name in names.items()
    ]
    return {
        "consent_entry_names": names,
        "consent_records": consent.records(case),
        "consent_form": form,
        # Set by a refused "Record consent": the form opens, saying why, beside its fields.
        "consent_record_refused": g.get("consent_record_refused"),
        "withdraw_form": WithdrawConsentForm(),
        "consent_purpose_labels": CONSENT_PURPOSE_LABELS,
        "consent_giver_labels": CONSENT_GIVER_LABELS,
        "consent_channel_labels": CONSENT_CHANNEL_LABELS,
    }


def _record_refused(case: Case, message: str, status: int = 400) -> PageResponse:
    """The case page again, its "Record consent" form open at the refusal (with what was
    chosen): folded again, the refused date was out of sight and the message far above."""
    g.consent_record_refused = message
    return _refused(case, message, status)


@bp.post("/<ref>/consent")
@role_required(*CASE_WRITERS)
def record_consent(ref: str) -> PageResponse:
    case = _case_or_404(ref)
    form = RecordConsentForm()
    form.entry_id.choices = []
    unknown = set(request.form) - FIELDS
    if unknown or any(len(request.form.getlist(name)) > 1 for name in request.form):
        return _record_refused(case, _("The request could not be understood. Nothing was saved."))
    if not form.validate():
        return _record_refused(
            case, _("Choose from the lists and give a valid date. Nothing was saved.")
        )
    try:
        consent.record(
            case.id,
            ConsentPurpose(form.purpose.data),
            ConsentGiver(form.given_by.data),
            ConsentChannel(form.given_via.data),
            current_user,
            entry_id=form.entry_id.data or None,
            given_at=_moment(form.given_on.data),
        )
    except ConsentError as error:
        return _record_refused(case, str(error), error.status)
    # At the message: the form's #record-consent would be kept across the redirect.
    flash(_("Consent recorded."), "success")
    return redirect(url_for("cases.detail", ref=case.ref, _anchor="main"), code=303)


@bp.post("/<ref>/consent/<int:record_id>/withdraw")
@role_required(*CASE_WRITERS)
def withdraw_consent(ref: str, record_id: int) -> PageResponse:
    case = _case_or_404(ref)
    form = WithdrawConsentForm()
    if set(request.form) - WITHDRAW_FIELDS - {"record_id"}:
        return _refused(case, _("The request could not be understood. Nothing was saved."))
    if not form.validate():
        return _refused(case, _("Choose from the lists. Nothing was saved."))
    if record_id > 2**31 - 1:
        return _refused(case, _("This consent record does not exist."), 404)
    try:
        consent.withdraw(
            case.id,
            record_id,
            ConsentGiver(form.withdrawn_by.data),
            ConsentChannel(form.withdrawn_via.data),
            current_user,
        )
    except ConsentError as error:
        return _refused(case, str(error), error.status)
    return _done(case, _("Consent withdrawn. Referrals for that purpose now need it again."))
