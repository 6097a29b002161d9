"""Forms for starting and moving referrals. No free text about the case: notes are sealed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from wtforms import DateTimeLocalField, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, NumberRange, Optional

from intake.forms import StaffForm
from intake.labels import KIND_LABELS, REFERRAL_OUTCOME_LABELS
from intake.services.deadlines import DUE_SOON_DAYS

# What an <input type="datetime-local"> sends, and shows (correct-date.js fills one with it).
DATE_INPUT_FORMAT = "%Y-%m-%dT%H:%M"

ACTION_LABELS = {
    "send": _l("Mark as sent (starts the clock)"),
    "acknowledge": _l("Acknowledged"),
    "reply": _l("Reply received"),
    "no_reply": _l("No reply"),
    "close": _l("Close"),
    "withdraw": _l("Withdraw"),
}
OVERRIDE_REASON_LABELS = {
    "life_or_liberty_at_risk": _l("Life or liberty is at risk and consent cannot be asked in time"),
    "detained_cannot_be_asked": _l("The person is detained and cannot be asked"),
    "asked_by_family_or_lawyer": _l("A family member or lawyer asked us to act for them"),
    "submitter_unreachable": _l("The submitter cannot be reached safely"),
    "public_information_only": _l("Only information that is already public will be shared"),
}
VIEW_LABELS = {
    "action": _l("Action needed"),
    "overdue": _l("Overdue"),
    "due_soon": lazy_ngettext("Due within %(num)d day", "Due within %(num)d days", DUE_SOON_DAYS),
    "awaiting": _l("Awaiting reply"),
    "timeline": _l("Timeline"),
    "all": _l("All"),
}


class OwnerForm(StaffForm):
    """Who owns a referral (and gets its reminders). The choice is checked by the service,
    which says why a colleague cannot own it; the list offers only those who can."""

    owner_id = SelectField(_l("Give it to"), validate_choice=False)


class ReferralForm(StaffForm):
    entry_id = SelectField(_l("Organisation or mechanism"), validators=[DataRequired()])
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        validators=[DataRequired()],
    )
    owner_id = SelectField(_l("Owner"), coerce=int, validators=[DataRequired()])
    due_hours = IntegerField(
        _l("Deadline in hours"),
        validators=[Optional(), NumberRange(min=1, max=24 * 366)],
    )
    consent_override_reason = SelectField(
        _l("Reason to refer without recorded consent (admins only; audited)"),
        choices=[
            SelectChoice("", "—"),
            *(SelectChoice(key, label) for key, label in OVERRIDE_REASON_LABELS.items()),
        ],
        validators=[Optional()],
    )
    sealed_note = HiddenField()


# What a caseworker reads after each action: what changed, in words (not "updated").
ACTION_DONE = {
    "send": _l("Referral marked as sent: its clock has started."),
    # An embassy contact's 24 hours run from the request, a reprisals report's date is fixed:
    # "its clock has started" read as if the overdue deadline had moved (a review).
    "send_fixed_clock": _l(
        "Referral marked as sent. Its deadline does not count from sending: it stays as shown."
    ),
    "acknowledge": _l("Acknowledgement recorded."),
    "reply": _l("Reply recorded."),
    "no_reply": _l("No reply recorded."),
    "close": _l("Referral closed."),
    "withdraw": _l(
        "Referral withdrawn: its deadline is no longer followed and no reminder is sent."
    ),
}
# Nothing is chosen until the caseworker chooses: a preselected first action (for a UN
# referral, often "Withdraw") would be taken by a "Save" meant for something else.
NO_ACTION = SelectChoice("", _l("Choose what happened"))
WITHDRAW_CONFIRMED = "yes"


class TransitionForm(StaffForm):
    action = SelectField(
        _l("What happened"),
        choices=[NO_ACTION, *(SelectChoice(key, label) for key, label in ACTION_LABELS.items())],
        validators=[DataRequired(message=_l("Choose what happened."))],
    )
    at = DateTimeLocalField(
        _l("When (your organisation's time; empty means now)"),
        format=DATE_INPUT_FORMAT,
        validators=[Optional()],
    )
    # Withdrawing ends the referral for good (no action leads back): it is confirmed first.
    confirmed = HiddenField()
    outcome = SelectField(
        _l("Outcome (to close)"),
        choices=[
            SelectChoice("", "—"),
            *(SelectChoice(key, label) for key, label in REFERRAL_OUTCOME_LABELS.items()),
        ],
        validators=[Optional()],
    )


class CorrectDateForm(StaffForm):
    """Correct a recorded date (the referral's "sent" date, or a UN step's): its choices are
    the referral's dates on record (``referrals.routes._date_form``)."""

    which = SelectField(
        _l("Which date"),
        validators=[DataRequired(message=_l("Choose one of the dates on record."))],
    )
    corrected_at = DateTimeLocalField(
        _l("The right date and time (your organisation's time)"),
        format=DATE_INPUT_FORMAT,
        validators=[DataRequired(message=_l("Enter the right date and time."))],
    )


# The referral's own dates that can be corrected (referrals.RECORDED_DATES), as the page
# names them.
RECORDED_DATE_LABELS = {
    "sent": _l("Sent"),
    "acknowledged": _l("Acknowledged"),
    "replied": _l("Replied"),
}


STEP_LABELS = {
    "submitted": _l("Submitted to the mandate"),
    "acknowledged": _l("Acknowledgement received"),
    "not_acknowledged": _l("No acknowledgement received"),
    "second_message": _l("Second message sent to the mandate"),
    "facts_update": _l("Update of the facts sent to OHCHR"),
    "communication_sent": _l("Communication sent to the government"),
    "opinion_adopted": _l("Opinion adopted"),
    "opinion_transmitted": _l("Opinion transmitted to the government"),
    "reply_received": _l("Government reply received"),
    "no_reply": _l("No reply from the government"),
    "published": _l("Published in the communications report"),
    "press_release": _l("Press release"),
    "further_communication": _l("Further communication"),
}
CHANNEL_LABELS = {
    "online_form": _l("UN online form"),
    "email": _l("E-mail to the mandate"),
    "staff_contact": _l("To an OHCHR staff member directly"),
    "other": _l("Other channel"),
}
COMMUNICATION_TYPE_LABELS = {
    "urgent_appeal": _l("Urgent appeal"),
    "allegation_letter": _l("Allegation letter"),
    "other_letter": _l("Other letter"),
}


class UnStepForm(StaffForm):
    """One UN step. Only public or routing facts: the reply's summary arrives sealed."""

    step = SelectField(
        choices=[SelectChoice(key, label) for key, label in STEP_LABELS.items()],
        validators=[DataRequired()],
    )
    at = DateTimeLocalField(
        _l("When (your organisation's time; empty means now)"),
        format=DATE_INPUT_FORMAT,
        validators=[Optional()],
    )
    channel = SelectField(
        _l("How"),
        choices=[SelectChoice("", "—")]
        + [SelectChoice(key, label) for key, label in CHANNEL_LABELS.items()],
        validators=[Optional()],
    )
    communication_type = SelectField(
        _l("Type"),
        choices=[SelectChoice("", "—")]
        + [SelectChoice(key, label) for key, label in COMMUNICATION_TYPE_LABELS.items()],
        validators=[Optional()],
    )
    # The page's reference and link inputs have no name: they are sealed in the browser and
    # posted as sealed_reference and sealed_link. These two are here for their labels, and to
    # refuse a reference or link posted in the clear (un_steps.NOT_SEALED).
    reference = StringField(_l("UN reference (e.g. AL CHN 3/2026)"), validators=[Optional()])
    joined_mandates = StringField(_l("Other mandates that joined"), validators=[Optional()])
    link = StringField(_l("Link (https://…)"), validators=[Optional()])
    sealed_reference = HiddenField()
    sealed_link = HiddenField()
    due_hours = IntegerField(
        _l("Deadline stated in the letter, in hours (48 or more)"),
        validators=[Optional(), NumberRange(min=1, max=24 * 366)],
    )
    sealed_summary = HiddenField()
    org_key_id = HiddenField()
