"""First run, sign-in (password, then TOTP), sign-out, the keyring and the account page.

Unlock flow: after the second factor the browser lands on /auth/unlock, where the staff member
types their password once more; keyring.js derives the wrapping key from it *in the browser*
and opens their keys. The password typed at /login is not kept anywhere for this.

No password reaches these views (DESIGN §3): the browser asks /auth/salt how to derive, and
posts only the authentication secret it derived (accounts of scheme 1 excepted, once).
"""

from __future__ import annotations

import time
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from intake.auth import bp, devices
from intake.auth.access import STAFF, role_required
from intake.auth.forms import (
    ChangePasswordForm,
    CodeForm,
    EnrolCurrentPasswordForm,
    EnrolNewPasswordForm,
    LoginForm,
    OverdueReminderForm,
    SaltRequestForm,
    SetupForm,
    StaffKeyFields,
)
from intake.auth.second_factor import begin_totp_confirmation
from intake.auth.sessions import (
    OFFER_UNLOCK,
    PENDING,
    current_record,
    end_session,
    enforce_timeouts,
    start_session,
)
from intake.extensions import db, limiter
from intake.forms import EmptyForm
from intake.i18n import sentences
from intake.models import User
from intake.services import accounts, audit, keys, recovery, second_factor, setup_token
from intake.services.accounts import AccountError, KeyMaterial, LoginResult, TotpResult
from intake.services.errors import ServiceError

PENDING_SECONDS = 300
FAILED_HERE = "login_failed_here"  # refused passwords in this browser since its last sign-in
# This session began with a one-time recovery code (the phone lost or stolen): the unlock page
# says so, with the codes left and the way to a new authenticator app. Replacing the app
# renews the session's cookie (second_factor.confirm_replaced_totp), which drops it.
RECOVERY_CODE_SIGN_IN = "signed_in_with_recovery_code"
Page = str | Response | tuple[str, int]

bp.before_app_request(enforce_timeouts)


@bp.context_processor
def password_rules() -> dict[str, int]:
    # Checked in the browser: the server never sees the password to check it.
    return {"password_min": accounts.PASSWORD_MIN}


def login_rate_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: no scheme, no host, no protocol-relative tricks."""
    if not target or len(target) > 512 or not target.startswith("/"):
        return None
    if target.startswith(("//", "/\\")) or any(ch in target for ch in "\\\r\n\t"):
        return None
    return target


def key_material(form: StaffKeyFields) -> KeyMaterial | None:
    try:
        return KeyMaterial.from_form(
            form.public_key.data or "",
            form.wrapped_secret_key.data or "",
            form.key_salt.data or "",
            form.ops_limit.data or "",
            form.mem_limit.data or "",
        )
    except AccountError:
        return None


def salt_rate_limit() -> str:
    return str(current_app.config["SALT_RATE_LIMIT"])


def needs_javascript() -> str:
    return _(
        "Signing in needs JavaScript: your browser turns your password into keys that never "
        "leave it. Turn JavaScript on for this site and reload the page."
    )


def wrap_params() -> dict[str, int]:
    ops, mem = accounts.wrap_limits()
    return {"ops_limit": ops, "mem_limit": mem}


# --- first run -----------------------------------------------------------------------------------


@bp.route("/setup", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def setup() -> Page:
    """First-run wizard: only while no account exists, and only with the one-time token
    printed on the operator's console. Afterwards it is gone (404), and says where to sign in."""
    if accounts.user_count() > 0:
        return setup_closed()
    form = SetupForm()
    token = form.setup_token.data if request.method == "POST" else request.args.get("token")
    if not setup_token.is_valid(token):
        message = _(
            "Setting up Refuge needs the one-time link printed on the server's console when it "
            "started (make run), or by the command: flask --app intake setup-token"
        )
        return render_template("errors/error.html", status=403, message=message), 403
    form.setup_token.data = token
    if form.validate_on_submit():
        keys_from_browser = key_material(form)
        try:
            if keys_from_browser is None:
                raise AccountError("invalid_keys")
            admin, org_key = recovery.set_up_organisation(
                form.email.data or "",
                form.auth_secret.data or "",
                keys_from_browser,
                form.org_public_key.data or "",
                form.sealed_org_secret.data or "",
                form.kit_public_key.data or "",
                form.kit_sealed_org_secret.data or "",
            )
        except keys.SetupClosed:
            return setup_closed()
        except ServiceError as exc:
            if exc.code in ("invalid_email", "email_taken"):
                form.email.errors = [*form.email.errors, str(exc)]  # beside the field
            else:
                form.form_errors.append(str(exc))
            return _render_setup(form, 400)
        response = make_response(
            render_template(
                "auth/setup_done.html", org_key=org_key, **begin_totp_confirmation(admin)
            )
        )
        devices.remember_enrolment(response, admin)
        return response
    return _render_setup(form, 400 if form.is_submitted() else 200)


def _render_setup(form: SetupForm, status: int) -> tuple[str, int]:
    return render_template(
        "auth/setup.html", form=form, wrap=wrap_params(), email_pattern=accounts.EMAIL_PATTERN
    ), status


def setup_closed() -> tuple[str, int]:
    return render_template("auth/setup_closed.html"), 404


# --- sign-in -------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login() -> Page:
    if current_user.is_authenticated:
        return redirect(url_for("cases.queue"))
    form = LoginForm()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        trusted_id = devices.trusted_user_id()
        try:
            check = accounts.check_password_step(
                form.email.data or "",
                form.auth_secret.data or "",
                legacy_password=form.legacy_password.data or None,
                trusted_user_id=trusted_id,
            )
        except AccountError:
            form.form_errors.append(needs_javascript())
            return render_template("auth/login.html", form=form), 400
        if check.result is LoginResult.OK and check.user is not None:
            session.pop(FAILED_HERE, None)
            session[PENDING] = {
                "uid": check.user.id,
                "epoch": check.user.session_epoch,
                "at": int(time.time()),
                "next": next_url,
                "trusted": trusted_id == check.user.id,
            }
            return redirect(url_for("auth.login_code"))
        if check.result is LoginResult.ENROLMENT_UNFINISHED and check.user is not None:
            if devices.enrolment_user_id() == check.user.id:
                return resume_enrolment(check.user, next_url)
            refuse_unfinished_enrolment_elsewhere(check.user)
        # Only said to whoever knows the password:
        if check.result is LoginResult.INACTIVE:
            message = _("This account is not active. Ask an admin of your organisation.")
        elif check.result is LoginResult.ENROLMENT_UNFINISHED and check.user is not None:
            message = sentences(
                no_second_factor_message(check.user),
                _(
                    "Or sign in from the browser where you set your password: there you can "
                    "set up a new authenticator app."
                ),
            )
        elif check.result is LoginResult.NO_SECOND_FACTOR and check.user is not None:
            message = no_second_factor_message(check.user)
        else:
            # A locked account answers like a wrong password: to someone who does not know
            # the password, "locked" would tell that the account exists. The audit log
            # records the lockout (auth.failed with "locked", auth.refused_locked).
            message = _("The e-mail address or the password is not correct.")
            # After a few refusals in this browser, whichever account they were for, say that
            # the right password is refused too for a while: a stressed admin otherwise
            # decides the password is forgotten and keeps trying, doubling the wait.
            failed = int(session.get(FAILED_HERE, 0) or 0) + 1
            session[FAILED_HERE] = failed
            if failed >= int(current_app.config["LOGIN_FREE_FAILURES"]):
                message = sentences(
                    message,
                    _(
                        "After several wrong tries, sign-in waits a little longer each"
                        " time, and even the right password is refused until then: if you"
                        " are sure of it, wait a minute and try again."
                    ),
                )
        form.form_errors.append(message)
        return render_template("auth/login.html", form=form), 401
    status = 400 if form.is_submitted() else 200
    return render_template("auth/login.html", form=form), status


def resume_enrolment(user: User, next_url: str | None) -> Response:
    """The right password, in the browser that set it (``devices.remember_enrolment``), for an
    account set up and left before its authenticator app was confirmed: a new app to set up,
    as at set-up; confirming it completes this sign-in."""
    second_factor.restart_enrolment(user)
    response = make_response(
        render_template(
            "auth/enrol_done.html",
            resumed=True,
            **begin_totp_confirmation(user, sign_in=True, next_url=next_url),
        )
    )
    devices.remember_enrolment(response, user)
    return response


def refuse_unfinished_enrolment_elsewhere(user: User) -> None:
    """The right password for an unfinished account, from another browser: a password alone
    is not enough to set up its second factor (whoever holds it could take the account)."""
    audit.record(
        "auth.refused_no_second_factor",
        "user",
        user.id,
        actor_label=f"user:{user.email}",
        detail={"enrolment": "another_browser"},
    )
    db.session.commit()


def reset_totp_command(user: User) -> str:
    return f"flask --app intake users reset-totp {user.email}"


def no_second_factor_message(user: User) -> str:
    """The password was right, but the new authenticator app was never confirmed with a code
    (the set-up page was left before "Confirm"): say who can give a new set-up link."""
    never = _(
        "Your password is right, but your second factor was never confirmed: the code from "
        "your authenticator app was not typed in when your account was set up."
    )
    if second_factor.another_admin_can_reset(user):
        what = _(
            "Ask an admin of your organisation to reset your second factor (on the Staff "
            "accounts page): you will get a new set-up link."
        )
    else:
        what = _(
            "No other admin can sign in to reset it, so whoever runs the Refuge server must "
            "give you a new set-up link, with the command: %(command)s",
            command=reset_totp_command(user),
        )
    return f"{never} {what}"


@bp.post("/auth/salt")
@limiter.limit(salt_rate_limit)
def login_salt() -> Response | tuple[Response, int]:
    """How this e-mail's password is derived in the browser (salt, Argon2id limits). Unknown
    addresses get a decoy salt that never changes: asking does not tell who has an account."""
    form = SaltRequestForm()
    if not form.validate_on_submit():
        return jsonify({"error": "bad_request"}), 400
    salt = accounts.login_salt(form.email.data or "")
    response = jsonify(
        {
            "salt": salt.salt,
            "ops_limit": salt.ops_limit,
            "mem_limit": salt.mem_limit,
            "upgrade": salt.upgrade,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def pending_user() -> tuple[User | None, dict[str, Any]]:
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None, {}
    if int(time.time()) - int(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None, {}
    user = db.session.get(User, pending.get("uid"))
    if user is None or user.session_epoch != pending.get("epoch"):
        return None, {}
    return user, pending


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login_code() -> Page:
    user, pending = pending_user()
    if user is None:
        flash(_("Please sign in with your e-mail and password first."), "error")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    page = {
        "form": form,
        "has_passkeys": second_factor.passkey_count(user) > 0,
        "another_admin": second_factor.another_admin_can_reset(user),
        "reset_command": reset_totp_command(user),
    }
    if form.validate_on_submit():
        outcome, minutes = second_factor.check_code_step(
            user, form.code.data or "", trusted=pending.get("trusted") is True
        )
        if outcome is TotpResult.OK:
            by_recovery_code = second_factor.looks_like_recovery_code(form.code.data or "")
            return finish_sign_in(user, pending, by_recovery_code=by_recovery_code)
        if outcome is LoginResult.LOCKED:
            return refuse_locked(minutes)
        if outcome is LoginResult.INACTIVE:
            form.form_errors.append(
                _("This account is not active. Ask an admin of your organisation.")
            )
        else:
            # Beside the box, which is emptied for the next code: the refused one stayed in
            # it, and the error was only in the summary above (a review in Chromium).
            form.code.errors = [
                _("This code was already used. Wait for the next code and enter it.")
                if outcome is TotpResult.REPLAY
                else _("The code is not correct. Check your authenticator app's clock.")
            ]
            form.code.raw_data = []
            form.code.data = ""
        return render_template("auth/login_code.html", **page), 401
    status = 400 if form.is_submitted() else 200
    return render_template("auth/login_code.html", **page), status


def finish_sign_in(
    user: User, pending: dict[str, Any], *, by_recovery_code: bool = False
) -> Response:
    """The second factor was right: a brand-new session, then the unlock page."""
    next_url = pending.get("next")
    accounts.complete_login(user)
    start_session(user)  # session.clear() then login_user: a brand-new session
    if by_recovery_code:
        session[RECOVERY_CODE_SIGN_IN] = True
    response = redirect(
        url_for("auth.unlock", next=next_url) if next_url else url_for("auth.unlock")
    )
    devices.remember(response, user)  # this browser is trusted from now on
    return response


def refuse_locked(minutes: int) -> Response:
    session.pop(PENDING, None)
    flash(
        _(
            "Too many failed attempts: this account is locked for %(minutes)s more minutes.",
            minutes=minutes,
        ),
        "error",
    )
    return redirect(url_for("auth.login"))


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        accounts.record_logout(current_user)
    end_session()
    flash(_("You are signed out."), "success")
    return redirect(url_for("auth.login"))


@bp.post("/auth/logout-everywhere")
@role_required(*STAFF)
def logout_everywhere() -> Response:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    accounts.logout_everywhere(current_user)
    end_session()
    flash(_("You are signed out on every device."), "success")
    return redirect(url_for("auth.login"))


# --- keys in the browser ---------------------------------------------------------------------


@bp.get("/auth/keyring")
@role_required(*STAFF)
def keyring() -> Response:
    """The wrapped staff key and the sealed grants: useless without the password."""
    return jsonify(keys.fetch_keyring(current_user))


@bp.get("/auth/alive")
@role_required(*STAFF)
def still_here() -> Response:
    """Nothing but the activity its request is (the user loader notes it): staff.js asks while
    someone types, which the idle time-out would otherwise not see."""
    return Response(status=204)


@bp.get("/auth/keyring/tab-key")
@role_required(*STAFF)
def keyring_tab_key() -> Response:
    """The key this session's keyring blob (sessionStorage) is encrypted with.

    Asked for by keyring.js each time a page opens the blob. Only this session's row holds it,
    and only while the session lasts: after sign-out or a time-out the blob cannot be opened.
    Same-origin script only: a cross-site request, a navigation or a request without the
    keyring's header (which a cross-origin page could only send after a CORS preflight we never
    answer) is refused.
    """
    site = request.headers.get("Sec-Fetch-Site")
    mode = request.headers.get("Sec-Fetch-Mode")
    if (
        (site is not None and site != "same-origin")
        or mode == "navigate"
        or request.headers.get("X-Refuge-Keyring") != "1"
    ):
        abort(403)
    record = current_record()
    if record is None or record.tab_key is None:
        abort(403)
    response = jsonify({"session": record.id, "tab_key": record.tab_key})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.post("/auth/keyring/rewrap")
@role_required(*STAFF)
def keyring_rewrap() -> Response | tuple[Response, int]:
    """An account's key of scheme 1 re-wrapped by keyring.js at unlock (DESIGN §3)."""
    form = StaffKeyFields()
    if not form.validate_on_submit():
        return jsonify({"error": "bad_request"}), 400
    try:
        accounts.rewrap_key(
            current_user, form.auth_secret.data or "", form.wrapped_secret_key.data or ""
        )
    except AccountError as exc:
        return jsonify({"error": exc.code, "message": str(exc)}), 400
    return jsonify({"ok": True})


@bp.get("/auth/unlock")
@role_required(*STAFF)
def unlock() -> str:
    session.pop(OFFER_UNLOCK, None)
    next_url = safe_next(request.args.get("next")) or url_for("cases.queue")
    has_keys = bool(current_user.public_key)
    recovery_code = None
    if session.get(RECOVERY_CODE_SIGN_IN) is True:
        recovery_code = {
            "left": second_factor.recovery_codes_left(current_user),
            "totp": second_factor.has_confirmed_totp(current_user),
        }
    return render_template(
        "auth/unlock.html", next_url=next_url, has_keys=has_keys, recovery_code=recovery_code
    )


# --- the account holder ---------------------------------------------------------------------


@bp.get("/auth/account")
@role_required(*STAFF)
def account() -> str:
    grants = keys.keyring_payload(current_user)["grants"]
    return render_template(
        "auth/account.html",
        form=ChangePasswordForm(),
        empty_form=EmptyForm(),
        reminder_form=_reminder_form(),
        grant_count=len(grants),
        wrap=wrap_params(),
    )


def _reminder_form() -> OverdueReminderForm:
    form = OverdueReminderForm(formdata=None)
    form.frequency.data = "daily" if current_user.overdue_reminders_daily else "weekly"
    return form


@bp.post("/auth/reminders")
@role_required(*STAFF)
def reminder_preference() -> Page:
    form = OverdueReminderForm()
    if form.validate_on_submit():
        accounts.set_overdue_reminders_daily(current_user, form.frequency.data == "daily")
        flash(_("Your reminder setting is saved."), "success")
    else:
        flash(_("The setting was not saved. Please try again."), "error")
    return redirect(url_for("auth.account"))


@bp.post("/auth/password")
@role_required(*STAFF)
@limiter.limit(login_rate_limit)
def change_password() -> Page:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user,
                form.current_auth_secret.data or "",
                form.auth_secret.data or "",
                key_material(form),
            )
        except AccountError as exc:
            form.form_errors.append(str(exc))
        else:
            start_session(current_user)  # the epoch moved on: other sessions end, this goes on
            # This tab's keys were locked with the old password: say how to open them again.
            flash(
                _(
                    "Your password is changed. You were signed out on your other devices. "
                    "Unlock your key with the new password to read cases here."
                ),
                "success",
            )
            return redirect(url_for("auth.account"))
    grants = keys.keyring_payload(current_user)["grants"]
    return render_template(
        "auth/account.html",
        form=form,
        empty_form=EmptyForm(),
        reminder_form=_reminder_form(),
        grant_count=len(grants),
        wrap=wrap_params(),
    ), 400


# --- invite / reset links --------------------------------------------------------------------


@bp.route("/auth/enrol/<token>", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def enrol(token: str) -> Page:
    """A colleague sets their password (their browser makes their keypair) and second factor."""
    user = accounts.user_for_enrol_token(token)
    if user is None:
        return render_template("auth/enrol_invalid.html"), 404
    new_password = user.password_hash is None
    form: EnrolNewPasswordForm | EnrolCurrentPasswordForm = (
        EnrolNewPasswordForm() if new_password else EnrolCurrentPasswordForm()
    )
    if form.validate_on_submit():
        try:
            if isinstance(form, EnrolNewPasswordForm):
                material = key_material(form)
                if material is None:
                    raise AccountError("invalid_keys")
                accounts.complete_enrolment(
                    user,
                    new_auth_secret=form.auth_secret.data or "",
                    current_auth_secret=None,
                    keys=material,
                )
            else:
                accounts.complete_enrolment(
                    user,
                    new_auth_secret=None,
                    current_auth_secret=form.current_auth_secret.data or "",
                    keys=None,
                    legacy_password=form.legacy_password.data or None,
                )
        except AccountError as exc:
            form.form_errors.append(str(exc))
            return render_template(
                "auth/enrol.html",
                form=form,
                user=user,
                new_password=new_password,
                wrap=wrap_params(),
            ), 400
        response = make_response(
            render_template("auth/enrol_done.html", **begin_totp_confirmation(user))
        )
        devices.remember_enrolment(response, user)
        return response
    status = 400 if form.is_submitted() else 200
    return render_template(
        "auth/enrol.html", form=form, user=user, new_password=new_password, wrap=wrap_params()
    ), status
