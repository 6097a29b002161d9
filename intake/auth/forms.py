"""Sign-in, first-run and account forms. Key material arrives in hidden fields the browser fills
(setup.js, login.js); the services validate its format and size before anything is stored."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from intake.services.accounts import EMAIL_MAX, PASSWORD_MAX, PASSWORD_MIN

B64_FIELD_MAX = 200  # every key blob we accept is < 110 characters of base64


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=PASSWORD_MAX)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Six-digit code from your authenticator app"),
        validators=[DataRequired(), Length(min=6, max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class StaffKeyFields(FlaskForm):
    """The staff keypair made in the browser: public key and the password-wrapped secret."""

    public_key = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    wrapped_secret_key = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    key_salt = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    ops_limit = HiddenField(validators=[Optional(), Length(max=12)])
    mem_limit = HiddenField(validators=[Optional(), Length(max=12)])


def _new_password_fields() -> tuple[PasswordField, PasswordField]:
    return (
        PasswordField(
            _l("Password"),
            validators=[DataRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)],
            description=_l(
                "At least %(n)s characters. A few unrelated words work well.", n=PASSWORD_MIN
            ),
            render_kw={"autocomplete": "new-password"},
        ),
        PasswordField(
            _l("Password again"),
            validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
            render_kw={"autocomplete": "new-password"},
        ),
    )


class SetupForm(StaffKeyFields):
    email = EmailField(_l("Your e-mail"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    password, confirm = _new_password_fields()
    org_public_key = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    sealed_org_secret = HiddenField(validators=[Optional(), Length(max=B64_FIELD_MAX)])
    # The one-time token from the operator's console, carried from the link to the POST.
    setup_token = HiddenField(validators=[Optional(), Length(max=128)])


class EnrolNewPasswordForm(StaffKeyFields):
    password, confirm = _new_password_fields()


class EnrolCurrentPasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Your current password"), validators=[DataRequired(), Length(max=PASSWORD_MAX)]
    )


class ChangePasswordForm(StaffKeyFields):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    password, confirm = _new_password_fields()


class OverdueReminderForm(FlaskForm):
    """How often an overdue referral is reminded: weekly (the default) or daily."""

    frequency = RadioField(
        _l("Reminders about overdue referrals"),
        choices=[SelectChoice("weekly", _l("Once a week")), SelectChoice("daily", _l("Every day"))],
        default="weekly",
    )
