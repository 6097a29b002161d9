"""Passkeys and security keys (WebAuthn) as a second factor, verified with the ``webauthn``
library. The browser's own ``navigator.credentials`` does the ceremony (intake/static/js/
passkey.js); each challenge is used once (the caller keeps it in the session and pops it).

The relying party is this site: its id is PUBLIC_BASE_URL's host (else the request's), and an
assertion made for any other origin is refused. A sign count that does not grow is refused (a
cloned authenticator or a replayed assertion)."""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, request
from flask_babel import lazy_gettext as _l
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from intake.db import utcnow
from intake.extensions import db
from intake.models import Passkey, User
from intake.services import audit, security_notices
from intake.services.errors import CodedError
from intake.services.second_factor import ensure_not_last_factor
from intake.services.transactions import transactional

NAME_MAX = 64
CREDENTIAL_JSON_MAX = 16_384
# What a broken or hostile response may raise while it is parsed and checked.
_BAD_RESPONSE = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError)

MESSAGES = {
    "invalid_name": _l("Give this passkey a name of at most %(n)s characters.", n=NAME_MAX),
    "invalid_credential": _l(
        "Your browser's answer could not be checked. Nothing was saved; try again."
    ),
    "expired": _l("This request expired. Reload the page and try again."),
    "duplicate": _l("This passkey is already registered."),
    "no_such_passkey": _l("This passkey does not exist or was already removed."),
    "wrong_passkey": _l("This passkey was not accepted. Try again, or use a code."),
}


class PasskeyError(CodedError):
    MESSAGES = MESSAGES


def rp_id() -> str:
    configured = str(current_app.config.get("PUBLIC_BASE_URL") or "")
    host = urlsplit(configured).hostname if configured else None
    if current_app.config.get("WEBAUTHN_FROM_REQUEST") or not host:
        host = urlsplit(request.host_url).hostname
    return str(host or "localhost")


def address_for_passkeys() -> str | None:
    """None when passkeys work here; else where they would. Browsers refuse a relying party id
    that is an IP address (``127.0.0.1``): the page must be opened at a host name, and on one's
    own machine that is ``localhost``."""
    if _is_address(rp_id()):
        parts = urlsplit(expected_origin())
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://localhost{port}/"
    if _is_address(urlsplit(request.host_url).hostname or ""):
        # Opened at 127.0.0.1 while the relying party is a name (make run's localhost): the
        # browser would refuse the ceremony here, and accept it at the configured address.
        return expected_origin() + "/"
    return None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def expected_origin() -> str:
    configured = str(current_app.config.get("PUBLIC_BASE_URL") or "")
    if configured and not current_app.config.get("WEBAUTHN_FROM_REQUEST"):
        parts = urlsplit(configured)
        return f"{parts.scheme}://{parts.netloc}"
    return request.host_url.rstrip("/")


def list_for(user: User) -> list[Passkey]:
    return list(
        db.session.scalars(
            sa.select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)
        )
    )


def _credential_text(credential: str) -> str:
    if not credential or len(credential) > CREDENTIAL_JSON_MAX:
        raise PasskeyError("invalid_credential")
    try:
        parsed = json.loads(credential)
    except (ValueError, RecursionError) as exc:  # "[[[…" deeper than the parser goes
        raise PasskeyError("invalid_credential") from exc
    if not isinstance(parsed, dict):
        raise PasskeyError("invalid_credential")
    return credential


def _challenge(challenge: str | None) -> bytes:
    if not isinstance(challenge, str) or not challenge:
        raise PasskeyError("expired")
    try:
        return base64url_to_bytes(challenge)
    except _BAD_RESPONSE as exc:
        raise PasskeyError("expired") from exc


# --- registration -------------------------------------------------------------------------------


def registration_options(user: User) -> tuple[str, str]:
    """(options JSON for navigator.credentials.create, challenge to keep in the session)."""
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=str(current_app.config["TOTP_ISSUER"]),
        user_id=f"refuge-user-{user.id}".encode(),
        user_name=user.email,
        user_display_name=user.email,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(key.credential_id))
            for key in list_for(user)
        ],
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


@transactional
def register(user: User, name: str, credential: str, challenge: str | None) -> Passkey:
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise PasskeyError("invalid_name")
    expected = _challenge(challenge)
    try:
        verified = verify_registration_response(
            credential=_credential_text(credential),
            expected_challenge=expected,
            expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
        )
    except _BAD_RESPONSE as exc:
        raise PasskeyError("invalid_credential") from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.scalar(sa.select(Passkey.id).where(Passkey.credential_id == credential_id)):
        raise PasskeyError("duplicate", status=409)
    passkey = Passkey(
        user_id=user.id,
        name=name,
        credential_id=credential_id,
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
    )
    db.session.add(passkey)
    db.session.flush()
    event = audit.record(
        "auth.passkey_added", "user", user.id, actor=user, detail={"passkey": passkey.id}
    )
    security_notices.queue(event, user)
    return passkey


@transactional
def remove(user: User, passkey_id: int) -> None:
    passkey = db.session.scalar(
        sa.select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
    )
    if passkey is None:
        raise PasskeyError("no_such_passkey", status=404)
    ensure_not_last_factor(user)
    db.session.delete(passkey)
    event = audit.record(
        "auth.passkey_removed", "user", user.id, actor=user, detail={"passkey": passkey_id}
    )
    security_notices.queue(event, user)


# --- sign-in -------------------------------------------------------------------------------------


def authentication_options(user: User) -> tuple[str, str]:
    options = generate_authentication_options(
        rp_id=rp_id(),
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(key.credential_id))
            for key in list_for(user)
        ],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def verify_assertion(user: User, credential: str, challenge: str | None) -> bool:
    """True when ``credential`` is a fresh assertion by one of ``user``'s passkeys for this
    challenge. The new sign count is stored with a compare-and-set, so that of two requests
    with the same assertion only one wins (the caller commits)."""
    try:
        expected = _challenge(challenge)
        text = _credential_text(credential)
    except PasskeyError:
        return False
    credential_id = json.loads(text).get("id")
    if not isinstance(credential_id, str) or len(credential_id) > 1400:
        return False
    passkey = db.session.scalar(
        sa.select(Passkey).where(Passkey.credential_id == credential_id, Passkey.user_id == user.id)
    )
    if passkey is None:
        return False
    try:
        verified = verify_authentication_response(
            credential=text,
            expected_challenge=expected,
            expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
            credential_public_key=base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
        )
    except _BAD_RESPONSE:
        return False
    result = db.session.execute(
        sa.update(Passkey)
        .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
        .values(sign_count=verified.new_sign_count, last_used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    audit.record(
        "auth.passkey_used",
        "user",
        user.id,
        actor_label=f"user:{user.email}",
        detail={"passkey": passkey.id},
    )
    return True
