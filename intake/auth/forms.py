"""Sign-in, first-run and account forms. Key material arrives in hidden fields the browser fills
(setup.js, login.js); the services validate its format and size before anything is stored."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, IntegerField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from intake.forms import StaffForm
from intake.services.accounts import EMAIL_MAX, PASSWORD_MAX

B64_FIELD_MAX = 200  # every key blob we accept is < 110 characters of base64


AUTH_SECRET_FIELD_MAX = 64  # base64 of the 32-byte authentication secret is 44 characters


def _auth_secret_field() -> HiddenField:
    """The authentication secret the browser derived from the password (keyring.js). The
    password inputs themselves have no name: a page without JavaScript cannot post them."""
    return HiddenField(validators=[Optional(), Length(max=AUTH_SECRET_FIELD_MAX)])


def _legacy_password_field() -> HiddenField:
    """Accounts from before the split (scheme 1) post their password one last time."""
    return HiddenField(validators=[Optional(), Length(max=PASSWORD_MAX)])


class LoginForm(StaffForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    auth_secret = _auth_secret_field()
    legacy_password = _legacy_password_field()


class CodeForm(StaffForm):
    code = StringField(
        _l("Six-digit code from your authenticator app"),
        validators=[DataRequired(), Length(min=6, max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class StaffKeyFields(StaffForm):
    """The staff keypair made in the browser: public key, the secret wrapped with the derived
    key-wrapping key, the salt the password is derived with, and the authentication secret."""

    public_key = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    wrapped_secret_key = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    key_salt = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    ops_limit = HiddenField(validators=[Optional(), Length(max=12)])
    mem_limit = HiddenField(validators=[Optional(), Length(max=12)])
    auth_secret = _auth_secret_field()


class SetupForm(StaffKeyFields):
    email = EmailField(_l("Your e-mail"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    org_public_key = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    sealed_org_secret = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    # The one-time token from the operator's console, carried from the link to the POST.
    setup_token = HiddenField(validators=[Optional(), Length(max=128)])
    # The recovery kit made and confirmed in the browser (recovery.js): its public key and the
    # organisation secret sealed to it. The recovery key itself is never posted.
    kit_public_key = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    kit_sealed_org_secret = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])


class RecoverForm(StaffForm):
    """Posted by recovery.js on /recover (JSON lists as in intake.services.recovery)."""

    kit_id = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=2**31)])
    proof = HiddenField(validators=[DataRequired(), Length(max=B64_FIELD_MAX)])
    grants = HiddenField(validators=[DataRequired(), Length(max=100_000)])
    sealed_to = HiddenField(validators=[DataRequired(), Length(max=B64_FIELD_MAX)])
    new_kit_public_key = HiddenField(validators=[DataRequired(), Length(max=B64_FIELD_MAX)])
    new_kit_seals = HiddenField(validators=[DataRequired(), Length(max=100_000)])


class EnrolNewPasswordForm(StaffKeyFields):
    pass


class EnrolCurrentPasswordForm(StaffForm):
    current_auth_secret = _auth_secret_field()
    legacy_password = _legacy_password_field()


class ChangePasswordForm(StaffKeyFields):
    current_auth_secret = _auth_secret_field()


class SaltRequestForm(StaffForm):
    email = StringField(validators=[DataRequired(), Length(max=EMAIL_MAX)])


class OverdueReminderForm(StaffForm):
    """How often an overdue referral is reminded: weekly (the default) or daily."""

    frequency = RadioField(
        _l("Reminders about overdue referrals"),
        choices=[SelectChoice("weekly", _l("Once a week")), SelectChoice("daily", _l("Every day"))],
        default="weekly",
    )
