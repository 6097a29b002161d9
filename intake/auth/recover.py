"""/recover: a signed-in admin whose keyring cannot open the organisation key gets it back with
the recovery kit, in the browser (DESIGN §3, recovery.js). The recovery key never reaches the
server, and the kit signs nobody in: these routes are for a signed-in admin only."""

from __future__ import annotations

from flask import jsonify, render_template
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from intake.auth import bp
from intake.auth.access import ADMINS, role_required
from intake.auth.forms import RecoverForm
from intake.forms import EmptyForm
from intake.models import User
from intake.services import recovery


def _me() -> User:
    user: User = current_user._get_current_object()
    return user


@bp.get("/recover")
@role_required(*ADMINS)
def recover_page() -> str:
    return render_template(
        "auth/recover.html",
        state=recovery.state_for(_me()),
        form=RecoverForm(),
        confirm_form=EmptyForm(),
    )


@bp.get("/recover/kit")
@role_required(*ADMINS)
def recovery_kit() -> tuple[Response, int]:
    """The kit's public key and sealed copies: nothing here opens without the recovery key."""
    try:
        payload = recovery.kit_payload(_me())
    except recovery.RecoveryError as exc:
        return jsonify({"error": exc.code, "message": str(exc)}), exc.status or 400
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response, 200


@bp.post("/recover")
@role_required(*ADMINS)
def recover() -> tuple[Response, int]:
    form = RecoverForm()
    grants = new_seals = None
    if form.validate_on_submit():
        grants = recovery.parse_seals(form.grants.data or "")
        new_seals = recovery.parse_seals(form.new_kit_seals.data or "")
    if grants is None or new_seals is None:
        message = _("The recovery your browser sent is not valid. Nothing was saved.")
        return jsonify({"error": "bad_request", "message": message}), 400
    try:
        kit = recovery.recover(
            _me(),
            int(form.kit_id.data or 0),
            form.proof.data or "",
            grants,
            form.sealed_to.data or "",
            form.new_kit_public_key.data or "",
            new_seals,
        )
    except recovery.RecoveryError as exc:
        return jsonify({"error": exc.code, "message": str(exc)}), exc.status or 400
    return jsonify({"kit_id": kit.id}), 201
