"""Builders for test data: users, organisation keys, sealed cases, directory entries, and
signed-in clients and browsers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyotp
import sqlalchemy as sa
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient

from intake import crypto
from intake.crypto import b64
from intake.db import utcnow
from intake.extensions import db
from intake.i18n import compile_catalogues
from intake.models import (
    Case,
    ConsentChannel,
    ConsentGiver,
    ConsentRecord,
    DirectoryEntry,
    OrgKey,
    Role,
    SealedBy,
    Urgency,
    User,
)
from intake.services import consent, key_pins
from intake.services.passwords import hash_password
from intake.services.triage import TriageEntry

DEFAULT_PASSWORD = "correct horse battery staple"


def compile_translations() -> None:
    """Compile every area's catalogue, as `make` does, so tests see translated pages."""
    compile_catalogues()


@dataclass
class OrgKeyPair:
    key: OrgKey
    secret: bytes

    @property
    def public(self) -> str:
        return self.key.public_key


def make_org_key() -> OrgKeyPair:
    public, secret = crypto.generate_keypair()
    key = OrgKey(public_key=public, fingerprint=crypto.fingerprint(public))
    db.session.add(key)
    key_pins.pin(key)
    db.session.commit()
    return OrgKeyPair(key=key, secret=secret)


KEY_WRAP_TEST_LIMITS = (1, 8192)  # Argon2id at its minimum: tests only


def login_secrets(user: User, password: str = DEFAULT_PASSWORD) -> crypto.LoginSecrets:
    """What ``user``'s browser derives from ``password`` (their salt and limits)."""
    assert user.key_salt
    assert user.key_ops_limit
    assert user.key_mem_limit
    return crypto.login_secrets(
        password, crypto.b64decode_strict(user.key_salt), user.key_ops_limit, user.key_mem_limit
    )


def unwrap_staff_secret(user: User, password: str = DEFAULT_PASSWORD) -> bytes:
    """``user``'s staff secret key, opened as their browser opens it (either scheme)."""
    if user.key_scheme < 2:
        return crypto.unwrap_secret_key(
            crypto.WrappedKey(
                user.wrapped_secret_key or "",
                user.key_salt or "",
                user.key_ops_limit or 0,
                user.key_mem_limit or 0,
            ),
            password,
        )
    return crypto.unwrap_with_key(
        user.wrapped_secret_key or "", login_secrets(user, password).wrapping_key
    )


def make_user(
    role: Role = Role.CASEWORKER,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    *,
    legacy: bool = False,
) -> User:
    """A signed-up staff member. ``legacy``: an account from before the password split
    (scheme 1: the password itself hashed, as the server received it then)."""
    count = db.session.query(User).count()
    user = User(
        email=email or f"{role.value}{count + 1}@example.org",
        role=role,
        totp_secret=pyotp.random_base32(),
        password_scheme=1 if legacy else 2,
        key_scheme=1 if legacy else 2,
        totp_confirmed_at=utcnow(),
    )
    if legacy:
        user.password_hash = hash_password(password)
    else:
        ops, mem = KEY_WRAP_TEST_LIMITS
        user.key_salt, user.key_ops_limit, user.key_mem_limit = b64(crypto.new_salt()), ops, mem
        user.password_hash = hash_password(login_secrets(user, password).auth_secret)
    db.session.add(user)
    db.session.commit()
    return user


def authenticator(user: User) -> pyotp.TOTP:
    """The authenticator app of ``user``: every built user has enrolled a second factor."""
    assert user.totp_secret, f"{user.email} has no second factor"
    return pyotp.TOTP(user.totp_secret)


def make_case(org: OrgKeyPair, answers: dict[str, Any] | None = None, **fields: Any) -> Case:
    code = crypto.normalise_receipt_code(crypto.new_receipt_code())
    assert code is not None
    from flask import current_app

    case = Case(
        ref=fields.pop("ref", None) or f"RF-{crypto.new_receipt_code()[:9]}",
        urgency=fields.pop("urgency", Urgency.DAYS),
        threats=fields.pop("threats", ["detention"]),
        profiles=fields.pop("profiles", ["lawyer"]),
        country=fields.pop("country", "MX"),
        languages=fields.pop("languages", ["es"]),
        consent_given=fields.pop("consent_given", True),
        sealed_by=SealedBy.SERVER,
        org_key_id=org.key.id,
        sealed_answers=crypto.seal_answers(answers or {"what_happened": "test"}, org.public),
        receipt_lookup=crypto.receipt_lookup(code, current_app.config["SECRET_KEY"]),
        reply_public_key=crypto.reply_keypair(code)[0],
        **fields,
    )
    db.session.add(case)
    db.session.flush()
    # Consent is records (issue 12): a case "with consent" has what the intake form records
    # (written directly, so that tests counting audit events see only their own).
    if case.consent_given:
        for purpose in consent.INTAKE_PURPOSES:
            db.session.add(
                ConsentRecord(
                    case_id=case.id,
                    purpose=purpose,
                    given_by=ConsentGiver.SUBMITTER,
                    given_via=ConsentChannel.INTAKE_FORM,
                    given_at=case.received_at,
                )
            )
    db.session.commit()
    return case


def _completed_sign_in(app: Flask, user: User) -> dict[str, Any]:
    """The session a completed sign-in (password and second factor) leaves, made by the
    sign-in's own intake.auth.sessions.start_session: it opens the staff_sessions row without
    which a cookie signs nobody in."""
    from flask import session

    from intake.auth.sessions import start_session

    with app.test_request_context():
        start_session(user)
        return dict(session)


def sign_in(client: FlaskClient, user: User | Role) -> User:
    """Sign ``client`` in as ``user``, or as a new staff member with that role; returns the
    user. For tests of the sign-in itself, tests/auth/helpers.py goes through the real forms."""
    if isinstance(user, Role):
        user = make_user(user)
    signed_in = _completed_sign_in(client.application, user)
    with client.session_transaction() as session:
        session.clear()
        session.update(signed_in)
        session.permanent = True
    return user


def session_cookie(app: Flask, user: User) -> str:
    """``sign_in`` for a real browser: the signed session cookie a completed sign-in sets."""
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None, "the app has no SECRET_KEY"
    return str(serializer.dumps(_completed_sign_in(app, user)))


def signed_in_context(browser: Any, app: Flask, base: str, user: User, **options: Any) -> Any:
    """A Playwright browser context signed in as ``user`` on ``base`` (``options`` go to
    ``browser.new_context``: viewport, locale, java_script_enabled …)."""
    context = browser.new_context(**options)
    context.add_cookies(
        [
            {
                "name": app.config["SESSION_COOKIE_NAME"],
                "value": session_cookie(app, user),
                "url": base,
            }
        ]
    )
    return context


def make_entry(entry_id: str = "test-ngo", **fields: Any) -> DirectoryEntry:
    """A directory entry (default: a global organisation for detention) with ``fields`` set."""
    values: dict[str, Any] = {
        "name": f"Entry {entry_id}",
        "kind": "organisation",
        "section": "immediate_support",
        "regions": ["global"],
        "threats": ["detention"],
        "languages": ["en"],
    }
    entry = DirectoryEntry(id=entry_id, **(values | fields))
    db.session.add(entry)
    db.session.commit()
    return entry


def make_attachment(
    case: Case,
    org: OrgKeyPair,
    name: str = "evidence.txt",
    content_type: str = "text/plain",
    data: bytes = b"evidence",
    message_id: int | None = None,
) -> Any:
    """An evidence file sealed to the organisation key as the intake form seals it (the file
    envelope of intake.services.submissions)."""
    from intake.models import CaseAttachment
    from intake.services.submissions import PlainFile, bucket_of, seal_file

    sealed = seal_file(PlainFile(name=name, content_type=content_type, data=data), org.public)
    attachment = CaseAttachment(
        case_id=case.id,
        message_id=message_id,
        sealed_content=sealed,
        size=bucket_of(sealed),
    )
    db.session.add(attachment)
    db.session.commit()
    return attachment


def make_staff_with_keys(
    role: Role = Role.CASEWORKER,
    org: OrgKeyPair | None = None,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    *,
    legacy: bool = False,
) -> tuple[User, bytes]:
    """A staff member whose keypair is wrapped with the key their browser derives from
    ``password`` and who holds a grant of ``org``'s secret key. ``legacy``: wrapped and signed
    in as before the password split (scheme 1). Returns (user, raw staff secret key)."""
    from intake.models import KeyGrant

    user = make_user(role, email=email, password=password, legacy=legacy)
    public, secret = crypto.generate_keypair()
    user.public_key = public
    if legacy:
        ops, mem = KEY_WRAP_TEST_LIMITS
        wrapped = crypto.wrap_secret_key(secret, password, ops_limit=ops, mem_limit=mem)
        user.wrapped_secret_key = wrapped.wrapped
        user.key_salt, user.key_ops_limit, user.key_mem_limit = wrapped.salt, ops, mem
    else:
        user.wrapped_secret_key = crypto.wrap_with_key(
            secret, login_secrets(user, password).wrapping_key
        )
    if org is not None:
        db.session.add(
            KeyGrant(
                org_key_id=org.key.id,
                user_id=user.id,
                sealed_org_secret=crypto.seal_key_grant(org.secret, public),
            )
        )
    db.session.commit()
    return user, secret


def give_key(user: User, org: OrgKeyPair) -> User:
    """Let ``user`` open ``org``'s cases, as an admin's grant does: ``org``'s secret key
    sealed to their public key (a new keypair when they have none). Cases and referrals go
    only to staff who can open them (casework.able_to_act)."""
    from intake.models import KeyGrant

    held = db.session.scalar(
        sa.select(KeyGrant).where(KeyGrant.user_id == user.id, KeyGrant.org_key_id == org.key.id)
    )
    if held is not None:
        held.revoked_at = None
        db.session.commit()
        return user
    if not user.public_key:
        user.public_key, _secret = crypto.generate_keypair()
    db.session.add(
        KeyGrant(
            org_key_id=org.key.id,
            user_id=user.id,
            sealed_org_secret=crypto.seal_key_grant(org.secret, user.public_key),
        )
    )
    db.session.commit()
    return user


def json_of(response: Any) -> Any:
    """The JSON body of a test response, which must have one."""
    body = response.json
    assert body is not None, response.get_data(as_text=True)[:200]
    return body


def generated_entry(
    i: int,
    kind: str,
    regions: list[str],
    countries: list[str],
    threats: list[str],
    profiles: list[str],
    languages: list[str],
    urgent: bool,
    conditions: list[str],
    retired: bool = False,
) -> TriageEntry:
    """A directory entry from Hypothesis's drawings (the triage property tests)."""
    return TriageEntry.of(
        {
            "id": f"e{i}",
            "name": f"Entry {i}",
            "kind": kind,
            "regions": regions,
            "countries": countries,
            "threats": threats,
            "profiles": profiles,
            "languages": languages,
            "accepts_urgent_appeals": urgent,
            "conditions": [{"id": c, "text": ""} for c in conditions],
            "retired": retired,
        }
    )
