"""Admin pages: staff accounts, key grants and the audit log (DESIGN §1.6, §3)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from intake import clock
from intake.admin import audit_view, bp, getting_started
from intake.admin.forms import (
    TRANSLATION_SEPARATOR,
    AuditFilterForm,
    GrantForm,
    InviteForm,
    ProfileForm,
    RecoveryKitForm,
    RoleForm,
    RotateForm,
    TimezoneForm,
    profile_form_class,
)
from intake.auth.access import ADMINS, role_required
from intake.db import utcnow
from intake.extensions import db
from intake.forms import EmptyForm
from intake.labels import ROLE_LABELS
from intake.models import AuditEvent, KeyGrant, Role, User
from intake.services import (
    accounts,
    audit_anchor,
    delivery,
    handover,
    heartbeats,
    keys,
    recovery,
    retention,
    second_factor,
    sign_in_throttle,
)
from intake.services import settings as org_settings
from intake.services.casework import CASE_HOLDER_ROLES

AUDIT_PAGE_SIZE = 50
Page = str | Response | tuple[str, int]


@bp.context_processor
def custody_warning() -> dict[str, Any]:
    """Every admin page warns while one lost password could lose every case (DESIGN §3): to
    admins, who can fix it; a caseworker refused an admin page is not told of it (its link
    would refuse them too)."""
    if not (current_user.is_authenticated and current_user.role in ADMINS):
        return {"custody_at_risk": False, "kit_missing": False}
    # With no confirmed kit in force, two key holders away (or both forgetting) loses every
    # case too: said apart from the lone holder's warning, which already names the kit.
    custody = recovery.custody_for(_me())
    return {
        "custody_at_risk": custody.at_risk,
        "kit_missing": custody.kit_missing,
        "kit_waiting": custody.kit_waiting,
        "i_hold_the_key": custody.i_hold_the_key,
    }


def _me() -> User:
    user: User = current_user._get_current_object()
    return user


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/")
@role_required(*ADMINS)
def index() -> str:
    current = keys.current_org_key()
    counts = {
        "users": accounts.user_count(),
        "active": db.session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.is_active_account)
        ),
        "needing_grant": len(keys.colleagues_needing_grant(current.id)) if current else 0,
        "events": db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
    }
    return render_template(
        "admin/index.html",
        org_key=current,
        counts=counts,
        getting_started=getting_started.for_admin(_me(), int(counts["needing_grant"] or 0)),
        empty_form=EmptyForm(),
        processes=heartbeats.status(),
        last_seen=heartbeats.last_seen(),
        failed_emails=delivery.failed_emails(),
        # E-mails being retried because the mail server refuses them: said before they fail.
        mail_failing=delivery.mail_failing(),
        zone=org_settings.org_zone(),
    )


@bp.post("/getting-started")
@role_required(*ADMINS)
def getting_started_shown() -> Response:
    """Hide the "Getting started" list before every step is done, or show it again."""
    _checked_action()
    wanted = request.form.getlist("show")
    if wanted not in (["yes"], ["no"]):
        abort(400)
    org_settings.set_getting_started_hidden(wanted == ["no"], _me())
    return redirect(url_for("admin.index"))


# --- staff accounts ------------------------------------------------------------------------------


def _render_users(
    form: InviteForm, status: int = 200, link: str | None = None, link_user: User | None = None
) -> tuple[str, int]:
    users = db.session.scalars(sa.select(User).order_by(User.email)).all()
    current = keys.current_org_key()
    granted: set[int] = set()
    if current is not None:
        granted = set(
            db.session.scalars(
                sa.select(KeyGrant.user_id).where(
                    KeyGrant.org_key_id == current.id, KeyGrant.revoked_at.is_(None)
                )
            )
        )
    return render_template(
        "admin/users.html",
        users=users,
        form=form,
        granted=granted,
        without_factor=second_factor.ids_without_second_factor(),
        link=link,
        link_user=link_user,
        empty_form=EmptyForm(),
        role_form=RoleForm(),
        now=utcnow,
        roles=list(Role),
    ), status


@bp.get("/users")
@role_required(*ADMINS)
def users() -> Page:
    return _render_users(InviteForm())


@bp.post("/users")
@role_required(*ADMINS)
def invite() -> Page:
    form = InviteForm()
    if not form.validate_on_submit():
        return _render_users(form, 400)
    try:
        user = accounts.create_user(form.email.data or "", Role(form.role.data), actor=_me())
    except accounts.AccountError as exc:
        form.email.errors = [*form.email.errors, str(exc)]
        existing = accounts.find_by_email(form.email.data or "")
        if exc.code == "email_taken" and existing is not None and not existing.password_hash:
            # Most often the same invite sent twice: its link is one button away in the list.
            form.email.errors.append(
                _(
                    "This colleague has not set a password yet. To send their link again, use"
                    " “Show a new invite link” in the list below."
                )
            )
        return _render_users(form, 400)
    link = url_for("auth.enrol", token=accounts.enrol_token(user), _external=True)
    flash(_("Account created. Send this link to your colleague over a secure channel."), "success")
    return _render_users(InviteForm(formdata=None), 201, link=link, link_user=user)


def _render_enrol_link(user: User, token: str) -> Page:
    """The users page with the one-time link to hand to ``user``."""
    link = url_for("auth.enrol", token=token, _external=True)
    return _render_users(InviteForm(formdata=None), 200, link=link, link_user=user)


def _checked_action() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400)


# Resets, deactivation and revoking a key grant cannot be undone. Their buttons in the lists
# post without ``confirmed``, which only shows what would happen (admin/confirm.html); the
# form there posts again with it, and only that post acts. As /status does for withdrawing a
# consent: the same with JavaScript on or off, never resting on window.confirm.
CONFIRMED = "yes"


def _confirmed() -> bool:
    return request.form.getlist("confirmed") == [CONFIRMED]


def _ask_to_confirm(action: str, target: User, cancel: str, **details: Any) -> Page:
    return render_template(
        "admin/confirm.html",
        action=action,
        target=target,
        is_me=target.id == _me().id,
        post_to=request.path,
        cancel_url=url_for(cancel),
        confirmed=CONFIRMED,
        empty_form=EmptyForm(),
        **details,
    )


@bp.post("/users/<int:user_id>/reset-password")
@role_required(*ADMINS)
def reset_password(user_id: int) -> Page:
    _checked_action()
    user = _user_or_404(user_id)
    try:
        if not _confirmed():
            accounts.refuse_password_reset(user, _me())
            return _ask_to_confirm(
                "reset_password", user, "admin.users", grants=accounts.active_grant_count(user)
            )
        token = accounts.reset_password(user, _me())
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    flash(
        _(
            "The password and keys of %(email)s are reset. They set a new password with this "
            "link; then grant them the organisation key again.",
            email=user.email,
        ),
        "success",
    )
    return _render_enrol_link(user, token)


@bp.post("/users/<int:user_id>/reset-totp")
@role_required(*ADMINS)
def reset_totp(user_id: int) -> Page:
    _checked_action()
    user = _user_or_404(user_id)
    try:
        if not _confirmed():
            accounts.refuse_totp_reset(user, _me())
            return _ask_to_confirm("reset_totp", user, "admin.users")
        token = accounts.reset_totp(user, _me())
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    flash(
        _(
            "The second factor of %(email)s is reset. They set up a new one with this link.",
            email=user.email,
        ),
        "success",
    )
    return _render_enrol_link(user, token)


@bp.post("/users/<int:user_id>/invite-link")
@role_required(*ADMINS)
def invite_link(user_id: int) -> Page:
    """A new invite link for a colleague who has not set a password yet: their first link
    was lost or ran out. Nothing of theirs changes, so nothing asks to confirm."""
    _checked_action()
    user = _user_or_404(user_id)
    try:
        token = accounts.invite_again(user, _me())
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    flash(
        _("A new invite link for %(email)s. Send it over a secure channel.", email=user.email),
        "success",
    )
    return _render_enrol_link(user, token)


@bp.post("/users/<int:user_id>/lift-throttle")
@role_required(*ADMINS)
def lift_throttle(user_id: int) -> Response:
    """Let a colleague sign in again at once after failed attempts (audited)."""
    _checked_action()
    user = _user_or_404(user_id)
    sign_in_throttle.lift(user, _me())
    flash(_("%(email)s can sign in again without waiting.", email=user.email), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/deactivate")
@role_required(*ADMINS)
def deactivate(user_id: int) -> Page:
    """Deactivate a colleague's account, after a confirmation that lists the open cases and
    awaiting referrals they hold and asks who takes them over (handover.deactivate)."""
    _checked_action()
    user = _user_or_404(user_id)
    chosen = request.form.getlist("successor")
    try:
        accounts.refuse_deactivation(user, _me())
        if not _confirmed():
            return _ask_to_hand_over(user, chosen)
        # One value: a colleague's id, or handover.NOBODY. A repeated field is refused.
        successor = handover.successor_of(_one(chosen), user)
        done = handover.deactivate(user, successor, _me())
    except handover.HandoverError as exc:
        return _ask_to_hand_over(user, chosen, error=str(exc)), exc.status
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    flash(_("Account deactivated: its sessions ended and its key grants are revoked."), "success")
    for message, category in _handover_said(done):
        flash(message, category)
    return redirect(url_for("admin.users"))


def _one(values: list[str]) -> str:
    """The one value of a form field that may be missing (""); several are no valid value."""
    if not values:
        return ""
    return values[0] if len(values) == 1 else "-"


def _ask_to_hand_over(
    user: User,
    chosen: list[str],
    action: str = "deactivate",
    role: Role | None = None,
    error: str | None = None,
) -> str:
    """The confirmation of a deactivation, or of a role that holds no cases (``action``
    "role"): what ``user`` holds, and who takes it over."""
    successors = handover.successors_for(user)
    wanted = _one(chosen)
    return render_template(
        "admin/confirm.html",
        action=action,
        role=role,
        target=user,
        is_me=user.id == _me().id,
        post_to=request.path,
        cancel_url=url_for("admin.users"),
        confirmed=CONFIRMED,
        empty_form=EmptyForm(),
        grants=accounts.active_grant_count(user),
        holdings=handover.holdings_of(user),
        successors=successors,
        successor_chosen=handover.NOBODY
        if wanted == handover.NOBODY
        else next((u.id for u in successors if str(u.id) == wanted), None),
        nobody=handover.NOBODY,
        successor_error=error,
    )


def _handover_said(done: handover.Handover) -> list[tuple[str, str]]:
    """What the flash says after a deactivation about the cases and referrals it handed on:
    who has them now, and what waits for someone to take it."""
    said: list[tuple[str, str]] = []
    email = done.successor_email or ""
    if done.cases_given:
        said.append(
            (
                ngettext(
                    "%(num)d open case is now assigned to %(email)s.",
                    "%(num)d open cases are now assigned to %(email)s.",
                    done.cases_given,
                    email=email,
                ),
                "success",
            )
        )
    if done.referrals_given:
        said.append(
            (
                ngettext(
                    "%(num)d referral awaiting a reply is now owned by %(email)s.",
                    "%(num)d referrals awaiting a reply are now owned by %(email)s.",
                    done.referrals_given,
                    email=email,
                ),
                "success",
            )
        )
    if done.cases_refused:
        said.append(
            (
                ngettext(
                    "%(num)d open case is sealed to a key %(email)s does not hold: it is now "
                    "unassigned and listed under Unassigned in the queue.",
                    "%(num)d open cases are sealed to a key %(email)s does not hold: they are "
                    "now unassigned and listed under Unassigned in the queue.",
                    done.cases_refused,
                    email=email,
                ),
                "info",
            )
        )
    elif done.cases_unassigned:
        said.append(
            (
                ngettext(
                    "%(num)d open case is now unassigned: it is listed under Unassigned in the "
                    "queue until someone takes it.",
                    "%(num)d open cases are now unassigned: they are listed under Unassigned in "
                    "the queue until someone takes them.",
                    done.cases_unassigned,
                ),
                "info",
            )
        )
    if done.referrals_left and done.successor_email:
        said.append(
            (
                ngettext(
                    "%(num)d referral awaiting a reply is on a case sealed to a key %(email)s "
                    "does not hold: it keeps its deactivated owner.",
                    "%(num)d referrals awaiting a reply are on cases sealed to a key %(email)s "
                    "does not hold: they keep their deactivated owner.",
                    done.referrals_left,
                    email=email,
                ),
                "info",
            )
        )
    if done.referrals_to_first_admin:
        said.append(
            (
                ngettext(
                    "Reminders for %(num)d referral now go to the first admin, %(email)s, "
                    "until someone takes it over on its page.",
                    "Reminders for %(num)d referrals now go to the first admin, %(email)s, "
                    "until someone takes them over on their pages.",
                    done.referrals_to_first_admin,
                    email=done.first_admin_email or "—",
                ),
                "info",
            )
        )
    to_holders = done.referrals_left - done.referrals_to_first_admin
    if to_holders:
        said.append(
            (
                ngettext(
                    "Reminders for %(num)d referral now go to the colleague who holds its "
                    "case, until someone takes it over on its page.",
                    "Reminders for %(num)d referrals now go to the colleagues who hold their "
                    "cases, until someone takes them over on their pages.",
                    to_holders,
                ),
                "info",
            )
        )
    return said


@bp.post("/users/<int:user_id>/activate")
@role_required(*ADMINS)
def activate(user_id: int) -> Response:
    _checked_action()
    user = _user_or_404(user_id)
    accounts.activate(user, _me())
    # Activation gives no key back: the keys page lists them as waiting for one.
    flash(
        _(
            "Account of %(email)s activated. To read cases, they need the organisation key "
            "again: grant it on the keys page.",
            email=user.email,
        ),
        "success",
    )
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/role")
@role_required(*ADMINS)
def change_role(user_id: int) -> Page:
    """Change a colleague's role. To a role that holds no cases (viewer), a colleague who holds
    open cases or awaiting referrals is first asked about, as for a deactivation: who takes
    them over (handover.change_role)."""
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    user = _user_or_404(user_id)
    role = Role(form.role.data)
    chosen = request.form.getlist("successor")
    holds_nothing = role in CASE_HOLDER_ROLES or not handover.holdings_of(user).anything
    try:
        if holds_nothing:
            successor = None
        elif not _confirmed():
            return _ask_to_hand_over(user, chosen, action="role", role=role)
        else:
            successor = handover.successor_of(_one(chosen), user)
        done = handover.change_role(user, role, successor, _me())
    except handover.HandoverError as exc:
        return _ask_to_hand_over(user, chosen, action="role", role=role, error=str(exc)), (
            exc.status
        )
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    flash(_("%(email)s is now: %(role)s.", email=user.email, role=ROLE_LABELS[role]), "success")
    for message, category in _handover_said(done) if done else []:
        flash(message, category)
    return redirect(url_for("admin.users"))


# --- key grants ------------------------------------------------------------------------------


def _render_grants(status: int = 200) -> tuple[str, int]:
    current = keys.current_org_key()
    grants = db.session.execute(
        sa.select(KeyGrant, User)
        .join(User, User.id == KeyGrant.user_id)
        .where(KeyGrant.revoked_at.is_(None))
        .order_by(KeyGrant.org_key_id.desc(), User.email)
    ).all()
    # The current key's grants first, apart: revoking one of them (then rotating) is what keeps
    # a colleague out of new cases; an older key's grant only opens cases sealed before.
    current_id = current.id if current is not None else None
    i_hold = current is not None and keys.active_grant(_me(), current) is not None

    # The grants keys.revocable refuses (nobody else holds their key, counted as it counts:
    # active accounts with a key): no Revoke button is offered there.
    def holds(user: User) -> int:
        return int(bool(user.is_active_account and user.public_key))

    holding: dict[int, int] = {}
    for key_grant, user in grants:
        holding[key_grant.org_key_id] = holding.get(key_grant.org_key_id, 0) + holds(user)
    last_holders = {
        key_grant.id
        for key_grant, user in grants
        if holding[key_grant.org_key_id] - holds(user) == 0
    }
    return render_template(
        "admin/keys.html",
        org_key=current,
        current_grants=[row for row in grants if row[0].org_key_id == current_id],
        older_grants=[row for row in grants if row[0].org_key_id != current_id],
        waiting=keys.colleagues_needing_grant(current.id if current else None),
        without_factor=second_factor.ids_without_second_factor(),
        i_hold=i_hold,
        empty_form=EmptyForm(),
        grant_form=GrantForm(),
        rotate_form=RotateForm(),
        holders=keys.current_holders(current) if current is not None else [],
        kit_form=RecoveryKitForm(),
        recovery_kit=recovery.confirmed_kit(),
        kits_in_force=recovery.unretired_kits(),
        held_key_ids=[key_grant.org_key_id for key_grant, user in grants if user.id == _me().id],
        last_holders=last_holders,
        way_back=recovery.state_for(_me()),
    ), status


@bp.get("/keys")
@role_required(*ADMINS)
def key_grants() -> Page:
    return _render_grants()


@bp.post("/keys/grants")
@role_required(*ADMINS)
def grant() -> Page:
    form = GrantForm()
    if not form.validate_on_submit():
        flash(_("The key grant your browser sent is not valid. Nothing was saved."), "error")
        return _render_grants(400)
    colleague = db.session.get(User, form.user_id.data)
    if colleague is None:
        abort(404)
    try:
        keys.grant(
            int(form.org_key_id.data or 0),
            colleague,
            form.sealed_org_secret.data or "",
            _me(),
            sealed_to=form.colleague_public_key.data or "",
        )
    except keys.KeyOperationError as exc:
        flash(str(exc), "error")
        return _render_grants(400)
    flash(
        _("%(email)s can now open cases sealed to the organisation key.", email=colleague.email),
        "success",
    )
    return redirect(url_for("admin.key_grants"))


@bp.post("/keys/grants/<int:grant_id>/revoke")
@role_required(*ADMINS)
def revoke_grant(grant_id: int) -> Page:
    _checked_action()
    try:
        if not _confirmed():
            record = keys.revocable(grant_id)
            return _ask_to_confirm(
                "revoke", record.user, "admin.key_grants", org_key_id=record.org_key_id
            )
        keys.revoke(grant_id, _me())
    except keys.KeyOperationError as exc:
        flash(_revoke_refusal(exc, grant_id), "error")
    else:
        flash(
            _(
                "Key grant revoked. To keep them out of new cases for good, rotate the "
                "organisation key."
            ),
            "success",
        )
    return redirect(url_for("admin.key_grants"))


def _revoke_refusal(exc: keys.KeyOperationError, grant_id: int) -> str:
    """Why a grant cannot be revoked, said to its holder as "you" when it is the admin's own
    ("This colleague is the only one…" was said of oneself)."""
    record = db.session.get(KeyGrant, grant_id)
    if exc.code == "last_key_holder" and record is not None and record.user_id == _me().id:
        return _(
            "You are the only one holding the organisation key, so your grant cannot be "
            "revoked. Grant the key to a colleague first, or the encrypted cases could never "
            "be opened again."
        )
    return str(exc)


def _parse_rotation_grants(text: str) -> tuple[dict[int, str], dict[int, str]] | None:
    """(sealed secret by user id, public key it was sealed to by user id), or None."""
    try:
        items: Any = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(items, list) or len(items) > keys.MAX_HOLDERS:
        return None
    sealed_by_user: dict[int, str] = {}
    sealed_to: dict[int, str] = {}
    for item in items:
        if not isinstance(item, dict):
            return None
        user_id, sealed = item.get("user_id"), item.get("sealed_org_secret")
        public_key = item.get("public_key")
        if (
            not isinstance(user_id, int)
            or isinstance(user_id, bool)
            or not isinstance(sealed, str)
            or not isinstance(public_key, str)
            or user_id in sealed_by_user
        ):
            return None
        sealed_by_user[user_id] = sealed
        sealed_to[user_id] = public_key
    return sealed_by_user, sealed_to


def _parse_kit_seals(text: str) -> dict[int, str] | None:
    """The new key sealed to each recovery kit in force, by kit id ('[]' when none)."""
    if not text.strip() or text.strip() == "[]":
        return {}
    return recovery.parse_seals(text, id_field="kit_id")


@bp.get("/keys/rotate")
@bp.get("/keys/grants")
@role_required(*ADMINS)
def key_posts_reopened() -> Response:
    """The address a refused grant or rotation was shown at, opened again (a reload after
    going elsewhere, a bookmark, the history): the keys page, not "Method Not Allowed"."""
    return redirect(url_for("admin.key_grants"))


@bp.post("/keys/rotate")
@role_required(*ADMINS)
def rotate_key() -> Page:
    form = RotateForm()
    if not form.validate_on_submit():
        if form.understood.errors and "csrf_token" not in form.errors:
            flash(_("Tick the box to confirm the rotation. Nothing was changed."), "error")
        else:
            flash(_("The new key your browser sent is not valid. Nothing was changed."), "error")
        return _render_grants(400)
    sealed = _parse_rotation_grants(form.grants.data or "")
    kit_seals = _parse_kit_seals(form.kit_seals.data or "")
    if sealed is None or kit_seals is None:
        flash(_("The new key your browser sent is not valid. Nothing was changed."), "error")
        return _render_grants(400)
    try:
        new_key = keys.rotate(_me(), form.org_public_key.data or "", *sealed, kit_seals=kit_seals)
    except keys.KeyOperationError as exc:
        flash(str(exc), "error")
        return _render_grants(400)
    flash(
        _(
            "The organisation key is rotated. New requests are sealed to the key with "
            "fingerprint %(fingerprint)s. Publish this new fingerprint now wherever you "
            "published the old one (your website, your partners), so that defenders can check "
            "it.",
            fingerprint=new_key.fingerprint,
        ),
        "success",
    )
    return redirect(url_for("admin.key_grants"))


# --- the recovery kit ------------------------------------------------------------------------


@bp.post("/keys/recovery-kit")
@role_required(*ADMINS)
def create_recovery_kit() -> tuple[Response, int]:
    """recovery.js made a kit in the browser: store its public key and sealed copies. It
    answers with the kit's id, for the confirmation that follows."""
    form = RecoveryKitForm()
    seals = recovery.parse_seals(form.seals.data or "") if form.validate_on_submit() else None
    if seals is None:
        return jsonify(
            {
                "error": "invalid_kit",
                "message": _("The recovery kit your browser sent is not valid. Nothing was saved."),
            }
        ), 400
    try:
        kit = recovery.create_kit(_me(), form.kit_public_key.data or "", seals)
    except recovery.RecoveryError as exc:
        return jsonify({"error": exc.code, "message": str(exc)}), exc.status or 400
    return jsonify({"kit_id": kit.id}), 201


@bp.post("/keys/recovery-kit/<int:kit_id>/confirm")
@role_required(*ADMINS)
def confirm_recovery_kit(kit_id: int) -> tuple[Response, int]:
    """The admin typed part of the recovery key back in the browser: the kit counts."""
    if not EmptyForm().validate_on_submit():
        return jsonify({"error": "bad_request"}), 400
    try:
        recovery.confirm_kit(kit_id, _me())
    except recovery.RecoveryError as exc:
        return jsonify({"error": exc.code, "message": str(exc)}), exc.status or 400
    # Said on the page recovery.js opens next: the only other sign was the kit's date.
    flash(
        _(
            "The new recovery kit is kept. The kits made before it are retired: Refuge no "
            "longer accepts them, so destroy them."
        ),
        "success",
    )
    return jsonify({"ok": True}), 200


# --- the audit log -----------------------------------------------------------------------------


AUDIT_MAX_PAGE = 100_000  # as AuditFilterForm.page allows


@bp.get("/audit")
@role_required(*ADMINS)
def audit_log() -> Page:
    # A page number edited by hand or left from a longer log: the nearest page, not "0 events"
    # with no word why (a review's ?page=abc).
    given = request.args.copy()
    asked = given.get("page", "")
    if asked:
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses (a 500).
        number = int(asked) if re.fullmatch(r"[0-9]{1,7}", asked) else None
        if number is None or number < 1:
            given["page"] = str(AUDIT_MAX_PAGE) if re.fullmatch(r"[0-9]{8,}", asked) else "1"
        elif number > AUDIT_MAX_PAGE:
            given["page"] = str(AUDIT_MAX_PAGE)
    form = AuditFilterForm(given)
    if not form.validate():
        return render_template(
            "admin/audit.html",
            form=form,
            events=[],
            targets={},
            page=1,
            pages=1,
            total=0,
            check=None,
        ), 400
    query = sa.select(AuditEvent)
    if form.action.data:
        query = query.where(audit_view.action_condition(form.action.data))
    if form.actor.data:
        query = query.where(
            AuditEvent.actor_label.contains(form.actor.data.strip(), autoescape=True)
        )
    if form.target_type.data:
        query = query.where(AuditEvent.target_type == form.target_type.data.strip())
    if form.target_id.data:
        query = query.where(audit_view.target_condition(form.target_id.data))
    if form.since.data:
        query = query.where(AuditEvent.at >= datetime.combine(form.since.data, time.min, UTC))
    if form.until.data:
        end = datetime.combine(form.until.data, time.min, UTC) + timedelta(days=1)
        query = query.where(AuditEvent.at < end)
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    page = min(form.page.data or 1, pages)
    events = db.session.scalars(
        query.order_by(AuditEvent.id.desc())
        .offset((page - 1) * AUDIT_PAGE_SIZE)
        .limit(AUDIT_PAGE_SIZE)
    ).all()
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/audit.html",
        form=form,
        events=events,
        targets=audit_view.targets(events),
        action_label=audit_view.action_label,
        actor_label=audit_view.actor_label,
        page=page,
        pages=pages,
        total=total,
        check=None,
        args=args,
    )


@bp.get("/audit/verify")
@role_required(*ADMINS)
def audit_verify() -> str:
    check = audit_anchor.verify_and_record(_me())
    return render_template("admin/audit_verify.html", check=check)


def _render_settings(
    form: TimezoneForm, profile_form: ProfileForm | None = None, status: int = 200
) -> tuple[str, int]:
    if profile_form is None:
        profile = org_settings.org_profile()
        translated = {
            key.replace(".", TRANSLATION_SEPARATOR): value
            for key, value in org_settings.org_profile_translations().items()
        }
        profile_form = _profile_form(
            formdata=None,
            org_name=profile.name,
            org_description=profile.description,
            org_response_time=profile.response_time,
            org_contact=profile.contact,
            org_onion=profile.onion_host,
            **translated,
        )
    return render_template(
        "admin/settings.html",
        form=form,
        profile_form=profile_form,
        retention_days=retention.retention_days(),
    ), status


def _profile_form(**kwargs: Any) -> ProfileForm:
    languages = tuple(current_app.config["PUBLIC_LANGUAGES"])
    return profile_form_class(languages)(**kwargs)


def _timezone_form() -> TimezoneForm:
    form = TimezoneForm(formdata=None)
    form.timezone.choices = [
        SelectChoice(name, label) for name, label in org_settings.timezone_choices()
    ]
    form.timezone.data = org_settings.timezone_name()
    return form


@bp.post("/settings/profile")
@role_required(*ADMINS)
def settings_profile() -> Page:
    form = _profile_form()
    if form.validate_on_submit():
        # "org_description__ar" is stored as "org_description.ar" (services.settings).
        values = {
            name.replace(TRANSLATION_SEPARATOR, "."): str(field.data or "")
            for name, field in form._fields.items()
        }
        try:
            org_settings.set_org_profile(values, _me())
        except org_settings.SettingError as error:
            form.org_onion.errors = [str(error)]
        else:
            flash(_("The organisation's public details were saved."), "success")
            return redirect(url_for("admin.settings"))
    return _render_settings(_timezone_form(), form, 422)


@bp.route("/settings", methods=["GET", "POST"])
@role_required(*ADMINS)
def settings() -> Page:
    form = TimezoneForm()
    form.timezone.choices = [
        SelectChoice(name, label) for name, label in org_settings.timezone_choices()
    ]
    status = 200
    if form.validate_on_submit():
        try:
            chosen = org_settings.set_timezone(form.timezone.data, _me())
        except org_settings.SettingError as error:
            form.timezone.errors = [str(error)]
            status = 422
        else:
            flash(
                _("Time zone set to %(zone)s.", zone=clock.zone_words(ZoneInfo(chosen))),
                "success",
            )
            return redirect(url_for("admin.settings"))
    elif request.method == "POST":
        status = 422
    else:
        form.timezone.data = org_settings.timezone_name()
    return _render_settings(form, status=status)
