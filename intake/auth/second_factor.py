"""Second-factor pages: confirming a new authenticator app, recovery codes, and the account
page's list of second factors (the passkey ceremonies are in intake.auth.passkeys)."""

from __future__ import annotations

import time
from typing import Any

from flask import abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from intake.auth import bp
from intake.auth.access import STAFF, role_required
from intake.extensions import db, limiter
from intake.forms import EmptyForm
from intake.models import User
from intake.services import accounts, passkeys, second_factor
from intake.services.errors import ServiceError

ENROLMENT = "totp_enrolment"  # session key: whose new secret this browser may confirm
ENROLMENT_SECONDS = 3600
Page = str | Response | tuple[str, int]


class TotpConfirmForm(FlaskForm):
    code = StringField(
        _l("Six-digit code from your authenticator app"),
        validators=[DataRequired(), Length(min=6, max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


def begin_totp_confirmation(user: User) -> dict[str, Any]:
    """This browser may confirm ``user``'s new secret for an hour; the page's context."""
    session[ENROLMENT] = {"uid": user.id, "epoch": user.session_epoch, "at": int(time.time())}
    return {
        "user": user,
        "otpauth_uri": accounts.otpauth_uri(user),
        "confirm_form": TotpConfirmForm(),
    }


def _enrolling_user() -> User | None:
    marker = session.get(ENROLMENT)
    if not isinstance(marker, dict) or not isinstance(marker.get("uid"), int):
        return None
    at = marker.get("at")
    if not isinstance(at, int) or int(time.time()) - at > ENROLMENT_SECONDS:
        return None
    user = db.session.get(User, marker["uid"])
    if user is None or user.session_epoch != marker.get("epoch") or not user.totp_secret:
        return None
    return user


@bp.post("/auth/totp/confirm")
@limiter.limit(lambda: "10 per minute;60 per hour")
def confirm_totp() -> Page:
    user = _enrolling_user()
    if user is None or user.totp_confirmed_at is not None:
        session.pop(ENROLMENT, None)
        message = _("This set-up page has expired. Sign in, or ask an admin for a new set-up link.")
        return render_template("errors/error.html", status=400, message=message), 400
    form = TotpConfirmForm()
    if form.validate_on_submit():
        try:
            codes = second_factor.confirm_totp(user, form.code.data or "")
        except ServiceError as exc:
            form.code.errors = [str(exc)]
        else:
            session.pop(ENROLMENT, None)
            return render_template("auth/recovery_codes.html", codes=codes, after_enrolment=True)
    return render_template(
        "auth/totp_confirm.html",
        user=user,
        otpauth_uri=accounts.otpauth_uri(user),
        confirm_form=form,
    ), 400


@bp.post("/auth/recovery-codes")
@role_required(*STAFF)
def regenerate_recovery_codes() -> Page:
    if not EmptyForm().validate_on_submit():
        abort(400)
    codes = second_factor.regenerate_recovery_codes(current_user)
    return render_template("auth/recovery_codes.html", codes=codes, after_enrolment=False)


@bp.post("/auth/totp/remove")
@role_required(*STAFF)
def remove_totp() -> Page:
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        second_factor.remove_totp(current_user)
    except ServiceError as exc:
        return render_template("errors/error.html", status=exc.status, message=str(exc)), exc.status
    flash(_("The authenticator app no longer signs you in."), "success")
    return redirect(url_for("auth.account"), 303)


@bp.app_template_global("second_factors_of")
def second_factors_of(user: User) -> dict[str, Any]:
    """What the account page shows about the holder's second factors."""
    return {
        "totp": second_factor.has_confirmed_totp(user),
        "recovery_left": second_factor.recovery_codes_left(user),
        "passkeys": passkeys.list_for(user),
        "passkeys_elsewhere": passkeys.address_for_passkeys(),
        "factor_count": second_factor.factor_count(user),
        "form": EmptyForm(),
    }
