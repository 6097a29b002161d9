"""Passkey ceremonies: registering one from the account page, and signing in with one at the
second step. The browser asks for options (JSON, CSRF token in a header), runs
navigator.credentials, and posts the answer back (intake/static/js/passkey.js)."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from intake.auth import bp
from intake.auth.access import STAFF, role_required
from intake.auth.routes import finish_sign_in, login_rate_limit, pending_user, refuse_locked
from intake.extensions import limiter
from intake.forms import EmptyForm
from intake.services import passkeys, second_factor
from intake.services.accounts import LoginResult, TotpResult
from intake.services.errors import ServiceError

REGISTRATION = "webauthn_registration"  # session keys: the one challenge in flight
ASSERTION = "webauthn_assertion"
Page = str | Response | tuple[str, int] | tuple[Response, int]


def _options(options_json: str) -> Response:
    response = Response(options_json, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _posted(name: str) -> str:
    value = request.form.get(name, "")
    return value if isinstance(value, str) else ""


@bp.post("/auth/passkeys/options")
@role_required(*STAFF)
def passkey_registration_options() -> Response:
    options_json, challenge = passkeys.registration_options(current_user)
    session[REGISTRATION] = challenge
    return _options(options_json)


@bp.post("/auth/passkeys")
@role_required(*STAFF)
def add_passkey() -> Page:
    challenge = session.pop(REGISTRATION, None)
    try:
        passkeys.register(current_user, _posted("name"), _posted("credential"), challenge)
    except ServiceError as exc:
        return jsonify({"error": str(exc)}), exc.status
    flash(_("The passkey was added: you can sign in with it."), "success")
    return jsonify({"redirect": url_for("auth.account")})


@bp.post("/auth/passkeys/<int:passkey_id>/remove")
@role_required(*STAFF)
def remove_passkey(passkey_id: int) -> Page:
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        passkeys.remove(current_user, passkey_id)
    except ServiceError as exc:
        return render_template("errors/error.html", status=exc.status, message=str(exc)), exc.status
    flash(_("The passkey was removed."), "success")
    return redirect(url_for("auth.account"), 303)


@bp.post("/login/passkey/options")
@limiter.limit(login_rate_limit)
def passkey_sign_in_options() -> Page:
    user, _pending = pending_user()
    if user is None or second_factor.passkey_count(user) == 0:
        return jsonify({"error": _("Please sign in with your e-mail and password first.")}), 400
    options_json, challenge = passkeys.authentication_options(user)
    session[ASSERTION] = challenge
    return _options(options_json)


@bp.post("/login/passkey")
@limiter.limit(login_rate_limit)
def passkey_sign_in() -> Page:
    user, pending = pending_user()
    if user is None:
        return jsonify({"error": _("Please sign in with your e-mail and password first.")}), 400
    challenge = session.pop(ASSERTION, None)
    outcome, minutes = second_factor.check_passkey_step(
        user, _posted("credential"), challenge, trusted=pending.get("trusted") is True
    )
    if outcome is TotpResult.OK:
        signed_in = finish_sign_in(user, pending)
        response = jsonify({"redirect": signed_in.location})
        for cookie in signed_in.headers.getlist("Set-Cookie"):  # the trusted-device cookie
            response.headers.add("Set-Cookie", cookie)
        return response
    if outcome is LoginResult.LOCKED:
        return jsonify({"redirect": refuse_locked(minutes).location}), 429
    if outcome is LoginResult.INACTIVE:
        return jsonify(
            {"error": _("This account is not active. Ask an admin of your organisation.")}
        ), 403
    return jsonify({"error": str(passkeys.PasskeyError("wrong_passkey"))}), 401
