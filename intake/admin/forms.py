"""Admin forms: invitations, roles, key grants and audit-log filters."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from intake.models import Role
from intake.services.accounts import EMAIL_MAX

ROLE_CHOICES = [
    SelectChoice(Role.CASEWORKER.value, _l("Caseworker: cases and referrals")),
    SelectChoice(Role.VIEWER.value, _l("Viewer: read only")),
    SelectChoice(Role.ADMIN.value, _l("Admin: users, keys, directory and audit log")),
]


ROLE_NAMES = {
    Role.ADMIN: _l("Admin"),
    Role.CASEWORKER: _l("Caseworker"),
    Role.VIEWER: _l("Viewer"),
}


class InviteForm(FlaskForm):
    email = EmailField(_l("Colleague's e-mail"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])


class GrantForm(FlaskForm):
    """Filled by admin-grants.js: the organisation secret sealed to the colleague's key."""

    user_id = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=2**31)])
    org_key_id = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=2**31)])
    sealed_org_secret = HiddenField(validators=[DataRequired(), Length(max=200)])
    # The public key the browser sealed to: refused unless it is still the colleague's.
    colleague_public_key = HiddenField(validators=[DataRequired(), Length(max=64)])


class RotateForm(FlaskForm):
    """Filled by admin-grants.js: the new public key and, per holder, its sealed secret and the
    public key it was sealed to (JSON: [{"user_id": 1, "public_key": "…",
    "sealed_org_secret": "…"}])."""

    org_public_key = HiddenField(validators=[DataRequired(), Length(max=200)])
    grants = HiddenField(validators=[DataRequired(), Length(max=400_000)])


class AuditFilterForm(FlaskForm):
    """GET filters of the audit log (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    action = StringField(_l("Action"), validators=[Optional(), Length(max=64)])
    actor = StringField(_l("Who"), validators=[Optional(), Length(max=254)])
    target_type = StringField(_l("Target type"), validators=[Optional(), Length(max=32)])
    target_id = StringField(_l("Target id"), validators=[Optional(), Length(max=64)])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("Until"), validators=[Optional()])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100000)], default=1)


class TimezoneForm(FlaskForm):
    timezone = SelectField(
        _l("Organisation time zone"),
        description=_l(
            "Deadlines counted in days end at the same local time in this zone, and dates are "
            "shown in it. Everything is stored in UTC."
        ),
        validators=[DataRequired()],
        validate_choice=False,  # checked against the zone database by the service
    )
