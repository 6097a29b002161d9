"""Second-factor pages: confirming a new authenticator app, replacing it (a lost or new phone),
recovery codes, and the account page's list of second factors (the passkey ceremonies are in
intake.auth.passkeys)."""

from __future__ import annotations

import time
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from intake.auth import bp, devices
from intake.auth.access import STAFF, role_required
from intake.auth.forms import EnrolCurrentPasswordForm
from intake.auth.sessions import continue_session, current_record, start_session
from intake.extensions import db, limiter
from intake.forms import EmptyForm, StaffForm
from intake.models import User
from intake.services import accounts, keys, passkeys, second_factor
from intake.services.accounts import AccountError
from intake.services.errors import ServiceError

ENROLMENT = "totp_enrolment"  # session key: whose new secret this browser may confirm
ENROLMENT_SECONDS = 3600
Page = str | Response | tuple[str, int]


class TotpConfirmForm(StaffForm):
    code = StringField(
        _l("Six-digit code from your authenticator app"),
        validators=[DataRequired(), Length(min=6, max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class TotpReplaceForm(TotpConfirmForm):
    """The code from the new app, and the signed token that carries its secret until then."""

    token = HiddenField(validators=[DataRequired(), Length(max=512)])


def begin_totp_confirmation(
    user: User, *, sign_in: bool = False, next_url: str | None = None
) -> dict[str, Any]:
    """This browser may confirm ``user``'s new secret for an hour; the page's context.

    ``sign_in``: the password was given at /login just now (an unfinished enrolment started
    again), so the confirmed code completes that sign-in, on to ``next_url``."""
    marker: dict[str, Any] = {"uid": user.id, "epoch": user.session_epoch, "at": int(time.time())}
    if sign_in:
        marker["sign_in"] = True
        marker["next"] = next_url
    session[ENROLMENT] = marker
    return {
        "user": user,
        "otpauth_uri": accounts.otpauth_uri(user),
        "confirm_form": TotpConfirmForm(),
        "needs_key_grant": not keys.holds_current_key(user),
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


@bp.route("/auth/totp/confirm", methods=["GET", "POST"])
@limiter.limit(lambda: "10 per minute;60 per hour", methods=["POST"])
def confirm_totp() -> Page:
    """The code from a new authenticator app. Opened again (the address typed or reloaded
    after a wrong code), the set-up in this browser is shown again: it was "405 not allowed",
    and the way on was to sign in again, which the page did not say."""
    user = _enrolling_user()
    if user is None or user.totp_confirmed_at is not None:
        session.pop(ENROLMENT, None)
        message = _("This set-up page has expired. Sign in, or ask an admin for a new set-up link.")
        return render_template("errors/error.html", status=400, message=message), 400
    form = TotpConfirmForm()
    if request.method == "GET":
        return render_template(
            "auth/totp_confirm.html",
            user=user,
            otpauth_uri=accounts.otpauth_uri(user),
            confirm_form=TotpConfirmForm(formdata=None),
        )
    if form.validate_on_submit():
        try:
            codes = second_factor.confirm_totp(user, form.code.data or "")
        except ServiceError as exc:
            form.code.errors = [str(exc)]
            form.code.data = ""  # emptied for the next code, as at /login/code
        else:
            marker = session.pop(ENROLMENT, None) or {}
            if marker.get("sign_in") is True:
                return _signed_in_with_codes(user, codes, marker.get("next"))
            return render_template(
                "auth/recovery_codes.html", codes=codes, after_enrolment=True, holder=user
            )
    return render_template(
        "auth/totp_confirm.html",
        user=user,
        otpauth_uri=accounts.otpauth_uri(user),
        confirm_form=form,
    ), 400


def _signed_in_with_codes(user: User, codes: list[str], next_url: object) -> Response:
    """The password (at /login, moments ago in this browser) and now a code from the new app:
    both factors, so the sign-in completes as at /login/code, and the recovery codes lead on
    to unlocking the keys."""
    accounts.complete_login(user)
    start_session(user)  # session.clear() then login_user: a brand-new session
    unlock_url = url_for("auth.unlock", next=next_url) if isinstance(next_url, str) else None
    response = make_response(
        render_template(
            "auth/recovery_codes.html",
            codes=codes,
            after_enrolment=True,
            holder=user,
            continue_url=unlock_url or url_for("auth.unlock"),
        )
    )
    devices.remember(response, user)  # this browser is trusted from now on
    return response


@bp.post("/auth/recovery-codes")
@role_required(*STAFF)
def regenerate_recovery_codes() -> Page:
    """New recovery codes, after a confirmation page: they end the old ones, kept on paper."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    if request.form.get("confirmed") != "yes":
        return render_template("auth/recovery_codes_confirm.html", form=form)
    codes = second_factor.regenerate_recovery_codes(current_user)
    return render_template(
        "auth/recovery_codes.html", codes=codes, after_enrolment=False, holder=current_user
    )


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


@bp.post("/auth/totp/replace")
@role_required(*STAFF)
@limiter.limit(lambda: "10 per minute;60 per hour")
def replace_totp() -> Page:
    """Re-authentication (the password, proved by the browser as at sign-in), then a new
    secret shown once. Nothing changes until a code from it is confirmed."""
    form = EnrolCurrentPasswordForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        token = second_factor.begin_replacement(
            current_user, form.current_auth_secret.data or "", form.legacy_password.data or None
        )
    except AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("auth.account"), 303)
    confirm_form = TotpReplaceForm(formdata=None)
    confirm_form.token.data = token
    return _replacement_page(confirm_form, token)


def _replacement_page(form: TotpReplaceForm, token: str, status: int = 200) -> tuple[str, int]:
    secret = second_factor.replacement_secret(current_user, token)
    return render_template(
        "auth/totp_replace.html",
        user=current_user,
        totp_secret=secret,
        otpauth_uri=accounts.otpauth_uri(current_user, secret),
        confirm_form=form,
        confirm_url=url_for("auth.confirm_replaced_totp"),
        replacing=second_factor.has_confirmed_totp(current_user),
    ), status


@bp.post("/auth/totp/replace/confirm")
@role_required(*STAFF)
@limiter.limit(lambda: "10 per minute;60 per hour")
def confirm_replaced_totp() -> Page:
    form = TotpReplaceForm()
    token = form.token.data or ""
    try:
        second_factor.replacement_secret(current_user, token)
    except ServiceError as exc:
        flash(str(exc), "error")
        return redirect(url_for("auth.account"), 303)
    if not form.validate_on_submit():
        return _replacement_page(form, token, 400)
    record = current_record()
    try:
        codes = second_factor.replace_totp(
            current_user,
            token,
            form.code.data or "",
            this_session=record.id if record is not None else None,
        )
    except ServiceError as exc:
        form.code.errors = [str(exc)]
        return _replacement_page(form, token, 400)
    # The epoch moved on: other sessions end, this one goes on with its tab key, so the tab's
    # keys stay unlocked (as the account itself, not the proxy: the page below asks
    # current_user again).
    continue_session(current_user._get_current_object())
    done = _(
        "Your new authenticator app is in use: codes from the old one no longer work. You were "
        "signed out on your other devices."
    )
    if codes is not None:
        return render_template(
            "auth/recovery_codes.html",
            codes=codes,
            after_enrolment=False,
            holder=current_user,
            done=done,
        )
    flash(done, "success")
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
        "replace_form": EnrolCurrentPasswordForm(formdata=None),
    }
