"""Admin forms: invitations, roles, key grants and audit-log filters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import cache

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from intake.forms import StaffForm
from intake.models import Role
from intake.services.accounts import EMAIL_MAX

ROLE_CHOICES = [
    SelectChoice(Role.CASEWORKER.value, _l("Caseworker: cases and referrals")),
    SelectChoice(Role.VIEWER.value, _l("Viewer: read only")),
    SelectChoice(Role.ADMIN.value, _l("Admin: users, keys, directory and audit log")),
]


class InviteForm(StaffForm):
    email = EmailField(_l("Colleague's e-mail"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])


class RoleForm(StaffForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])


class GrantForm(StaffForm):
    """Filled by admin-grants.js: the organisation secret sealed to the colleague's key."""

    user_id = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=2**31)])
    org_key_id = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=2**31)])
    sealed_org_secret = HiddenField(validators=[DataRequired(), Length(max=200)])
    # The public key the browser sealed to: refused unless it is still the colleague's.
    colleague_public_key = HiddenField(validators=[DataRequired(), Length(max=64)])


class RotateForm(StaffForm):
    """Filled by admin-grants.js: the new public key and, per holder, its sealed secret and the
    public key it was sealed to (JSON: [{"user_id": 1, "public_key": "…",
    "sealed_org_secret": "…"}])."""

    org_public_key = HiddenField(validators=[DataRequired(), Length(max=200)])
    grants = HiddenField(validators=[DataRequired(), Length(max=400_000)])
    # The new secret sealed to each recovery kit in force: [{"kit_id": 1, "sealed_org_secret":
    # "…"}] (empty list when there is none).
    kit_seals = HiddenField(validators=[Optional(), Length(max=2_000)])
    understood = BooleanField(
        _l(
            "I understand: new requests will be sealed to a new key, and I will publish its "
            "fingerprint wherever the current one is published."
        ),
        validators=[DataRequired()],
    )


class RecoveryKitForm(StaffForm):
    """Posted by recovery.js: a new kit's public key and the organisation secrets sealed to it
    (JSON: [{"org_key_id": 1, "sealed_org_secret": "…"}])."""

    kit_public_key = HiddenField(validators=[DataRequired(), Length(max=64)])
    seals = HiddenField(validators=[DataRequired(), Length(max=100_000)])


# The audit log's date filters: wide enough for any real log, narrow enough that a day added
# to "until" stays a valid date (9999-12-31 + 1 day overflowed: a 500).
AUDIT_FIRST_DAY = date(2000, 1, 1)
AUDIT_LAST_DAY = date(2999, 12, 31)


def audit_date_in_range(form: FlaskForm, field: DateField) -> None:
    if field.data is not None and not AUDIT_FIRST_DAY <= field.data <= AUDIT_LAST_DAY:
        raise ValidationError(
            _l(
                "Enter a date between %(first)s and %(last)s.",
                first=AUDIT_FIRST_DAY.isoformat(),
                last=AUDIT_LAST_DAY.isoformat(),
            )
        )


# What an audit event can be about (audit.record's target types), as the filter offers them.
AUDIT_TARGET_TYPES = {
    "": _l("Any"),
    "case": _l("Case and its referrals"),
    "user": _l("Account"),
    "directory": _l("Directory entry"),
    "org_key": _l("Organisation key"),
    "recovery_kit": _l("Recovery kit"),
    "settings": _l("Organisation settings"),
    "outbox": _l("Reminder e-mail"),
    "security_notices": _l("Security notices"),
    "audit": _l("Audit chain"),
}


class AuditFilterForm(StaffForm):
    """GET filters of the audit log (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    action = StringField(
        _l("Action"),
        description=_l("Words of the action as the log shows it, or the start of its code."),
        validators=[Optional(), Length(max=64)],
    )
    actor = StringField(_l("Who"), validators=[Optional(), Length(max=254)])
    # A choice, not free text: "referral" found nothing (a referral's events are its case's).
    target_type = SelectField(
        _l("Target type"),
        choices=[SelectChoice(value, label) for value, label in AUDIT_TARGET_TYPES.items()],
        validators=[Optional()],
    )
    target_id = StringField(
        _l("Target id"),
        description=_l(
            "An id, or a case's reference (RF-…) for that case's events, its referrals' too."
        ),
        validators=[Optional(), Length(max=64)],
    )
    since = DateField(_l("From"), validators=[Optional(), audit_date_in_range])
    until = DateField(_l("Until"), validators=[Optional(), audit_date_in_range])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100000)], default=1)

    def validate_until(self, field: DateField) -> None:
        """An end before the start found nothing, silently."""
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date is before the start date."))


class TimezoneForm(StaffForm):
    timezone = SelectField(
        _l("Organisation time zone"),
        description=_l(
            "Deadlines counted in days end at the same local time in this zone, and dates are "
            "shown in it. Everything is stored in UTC."
        ),
        validators=[DataRequired()],
        validate_choice=False,  # checked against the zone database by the service
    )


class ProfileForm(StaffForm):
    """What the public pages say about the organisation. Lengths match services.settings."""

    org_name = StringField(
        _l("Organisation name"),
        description=_l("Shown in the header and title of the public pages."),
        validators=[Optional(), Length(max=120)],
    )
    org_description = StringField(
        _l("Short description"),
        description=_l("One or two sentences on who you are, shown on the landing page and form."),
        validators=[Optional(), Length(max=255)],
    )
    org_response_time = StringField(
        _l("Expected response time"),
        description=_l("For example: within 2 working days."),
        validators=[Optional(), Length(max=120)],
    )
    org_contact = StringField(
        _l("Public contact"),
        description=_l(
            "Another way to reach you, for example an e-mail address or a Signal number."
        ),
        validators=[Optional(), Length(max=200)],
    )
    org_onion = StringField(
        _l("Onion address"),
        description=_l(
            "Your version 3 onion service, if you run one. Tor Browser then offers it to visitors."
        ),
        validators=[Optional(), Length(max=100)],
    )


# A field of ProfileForm's per-language texts: "<setting key>__<language>", e.g.
# "org_description__ar" (services.settings stores it as "org_description.ar").
TRANSLATION_SEPARATOR = "__"


@cache
def profile_form_class(languages: tuple[str, ...]) -> type[ProfileForm]:
    """ProfileForm with the description and response time once more per public language."""

    class TranslatedProfileForm(ProfileForm):
        def translations(self) -> Iterator[tuple[str, list[StringField]]]:
            """(language, its fields) in the order of ``languages``."""
            for language in languages:
                yield (
                    language,
                    [
                        self[f"org_description{TRANSLATION_SEPARATOR}{language}"],
                        self[f"org_response_time{TRANSLATION_SEPARATOR}{language}"],
                    ],
                )

    for language in languages:
        setattr(
            TranslatedProfileForm,
            f"org_description{TRANSLATION_SEPARATOR}{language}",
            StringField(_l("Short description"), validators=[Optional(), Length(max=255)]),
        )
        setattr(
            TranslatedProfileForm,
            f"org_response_time{TRANSLATION_SEPARATOR}{language}",
            StringField(_l("Expected response time"), validators=[Optional(), Length(max=120)]),
        )
    return TranslatedProfileForm
