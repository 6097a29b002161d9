"""Admin pages: invitations, resets, deactivation, roles, key grants and the audit log."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.admin import audit_view
from intake.extensions import db
from intake.models import AuditEvent, KeyGrant, Role, User
from intake.services import accounts, audit
from tests.auth.helpers import csrf_token
from tests.builders import login_secrets, make_org_key, make_staff_with_keys, make_user, sign_in


@pytest.fixture
def admin_client(app: Flask, client: FlaskClient) -> tuple[FlaskClient, User, Any]:
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org)
    sign_in(client, admin)
    return client, admin, org


def post(client: FlaskClient, path: str, page: str = "/admin/users", **data: Any) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def user_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(User)) or 0)


def test_invite_creates_an_account_without_password_and_shows_a_link(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    client, admin, _ = admin_client
    response = post(client, "/admin/users", email="Colleague@Example.org", role="viewer")
    assert response.status_code == 201
    colleague = db.session.scalar(sa.select(User).where(User.email == "colleague@example.org"))
    assert colleague is not None
    assert colleague.role is Role.VIEWER
    assert colleague.password_hash is None
    token = re.search(r"/auth/enrol/([A-Za-z0-9_.\-]+)", response.get_data(as_text=True))
    assert token
    assert accounts.user_for_enrol_token(token.group(1)) == colleague
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "account.invited"))
    assert event is not None
    assert event.actor_id == admin.id


@pytest.mark.parametrize(
    "data",
    [
        {"email": "", "role": "viewer"},
        {"email": "not-an-email", "role": "viewer"},
        {"email": "x" * 400 + "@example.org", "role": "viewer"},
        {"email": "ok@example.org", "role": "superuser"},
        {"email": "ok@example.org"},
        {"email": "<img src=x onerror=alert(1)>@example.org", "role": "admin"},
    ],
)
def test_hostile_invites_are_refused_and_write_nothing(
    admin_client: tuple[FlaskClient, User, Any], data: dict[str, str]
) -> None:
    client, _, _ = admin_client
    before = user_count()
    response = post(client, "/admin/users", **data)
    assert response.status_code == 400
    assert "<img src=x" not in response.get_data(as_text=True)
    assert user_count() == before


def test_inviting_an_existing_email_is_refused(admin_client: tuple[FlaskClient, User, Any]) -> None:
    client, admin, _ = admin_client
    response = post(client, "/admin/users", email=admin.email.upper(), role="viewer")
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_invite_sent_twice_at_once_is_refused_beside_the_field_not_a_500(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """A double click on "Create account and show link" gave a 500 that said nothing was
    saved, while the first post had made the account (a review in Chromium): the second post
    looked for the address before the first had committed, and the unique e-mail refused its
    insert. Here the look-up misses once, as it did then."""
    app = make_app(backend)
    with app.app_context():
        client = app.test_client()
        org = make_org_key()
        admin, _ = make_staff_with_keys(Role.ADMIN, org)
        sign_in(client, admin)
        assert (
            post(client, "/admin/users", email="twice@example.org", role="viewer").status_code
            == 201
        )
        looked_up = accounts.find_by_email
        missed: list[str] = []

        def not_there_yet(email: str) -> User | None:
            if not missed:
                missed.append(email)
                return None
            return looked_up(email)

        monkeypatch.setattr(accounts, "find_by_email", not_there_yet)
        response = post(client, "/admin/users", email="twice@example.org", role="viewer")
        assert missed == ["twice@example.org"]
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "An account with this e-mail address already exists." in page
        assert "To send their link again, use “Show a new invite link” in the list below." in page
        db.session.rollback()
        assert user_count() == 2
        invited = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "account.invited")
        ).all()
        assert len(invited) == 1


def test_reset_password_forgets_keys_revokes_grants_and_ends_sessions(
    app: Flask, admin_client: tuple[FlaskClient, User, Any]
) -> None:
    client, _, org = admin_client
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, org)
    their_client = app.test_client()
    sign_in(their_client, colleague)
    response = post(client, f"/admin/users/{colleague.id}/reset-password", confirmed="yes")
    assert response.status_code == 200
    assert "/auth/enrol/" in response.get_data(as_text=True)
    db.session.refresh(colleague)
    assert colleague.password_hash is None
    assert colleague.wrapped_secret_key is None
    grant = db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == colleague.id))
    assert grant is not None
    assert grant.revoked_at is not None
    assert their_client.get("/cases/").status_code == 302


def test_reset_totp_needs_the_link_and_the_current_password(
    app: Flask, admin_client: tuple[FlaskClient, User, Any]
) -> None:
    client, _, _ = admin_client
    colleague = make_user(Role.CASEWORKER)
    old_secret = colleague.totp_secret
    response = post(client, f"/admin/users/{colleague.id}/reset-totp", confirmed="yes")
    token = re.search(r"/auth/enrol/([A-Za-z0-9_.\-]+)", response.get_data(as_text=True))
    assert token
    db.session.refresh(colleague)
    assert colleague.totp_secret is None
    other = app.test_client()
    path = f"/auth/enrol/{token.group(1)}"
    wrong_proof = login_secrets(colleague, "not their password").auth_secret
    wrong = other.post(
        path, data={"csrf_token": csrf_token(other, path), "current_auth_secret": wrong_proof}
    )
    assert wrong.status_code == 400
    right = other.post(
        path,
        data={
            "csrf_token": csrf_token(other, path),
            "current_auth_secret": login_secrets(colleague).auth_secret,
        },
    )
    assert right.status_code == 200
    db.session.refresh(colleague)
    assert colleague.totp_secret
    assert colleague.totp_secret != old_secret


def test_deactivate_and_activate(app: Flask, admin_client: tuple[FlaskClient, User, Any]) -> None:
    client, admin, _ = admin_client
    colleague = make_user(Role.CASEWORKER)
    their_client = app.test_client()
    sign_in(their_client, colleague)
    assert (
        post(client, f"/admin/users/{colleague.id}/deactivate", confirmed="yes").status_code == 302
    )
    db.session.refresh(colleague)
    assert not colleague.is_active_account
    assert their_client.get("/cases/").status_code == 302
    assert post(client, f"/admin/users/{colleague.id}/activate").status_code == 302
    db.session.refresh(colleague)
    assert colleague.is_active_account
    # Deactivation revoked their key: the admin is told to grant it again, and where.
    said = client.get("/admin/users").get_data(as_text=True)
    assert f"Account of {colleague.email} activated." in said
    assert "grant it on the keys page" in said
    # An admin cannot lock themselves out.
    post(client, f"/admin/users/{admin.id}/deactivate", confirmed="yes")
    db.session.refresh(admin)
    assert admin.is_active_account


def test_change_role_and_refuse_self_demotion(admin_client: tuple[FlaskClient, User, Any]) -> None:
    client, admin, _ = admin_client
    colleague = make_user(Role.VIEWER)
    assert post(client, f"/admin/users/{colleague.id}/role", role="caseworker").status_code == 302
    db.session.refresh(colleague)
    assert colleague.role is Role.CASEWORKER
    # Whose role, and to what: not a bare "Role changed." on a list of many colleagues.
    said = client.get("/admin/users").get_data(as_text=True)
    assert f"{colleague.email} is now: Caseworker." in said
    chinese = post(client, f"/admin/users/{colleague.id}/role?lang=zh_Hant", role="viewer")
    assert chinese.status_code == 302
    assert f"{colleague.email} 現在的角色：檢視者" in client.get(
        "/admin/users?lang=zh_Hant"
    ).get_data(as_text=True)
    assert post(client, f"/admin/users/{colleague.id}/role", role="root").status_code == 400
    post(client, f"/admin/users/{admin.id}/role", role="viewer")
    db.session.refresh(admin)
    assert admin.role is Role.ADMIN


def test_the_fingerprint_beside_a_waiting_colleague_is_the_one_their_account_page_shows(
    app: Flask, admin_client: tuple[FlaskClient, User, Any]
) -> None:
    """The keys page showed an unlabelled code the colleague could not see anywhere, so the
    admin had nothing to compare it with before granting (a review in Chromium)."""
    client, _, _ = admin_client
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, email="waiting@example.org")
    page = client.get("/admin/keys?lang=zh_Hant").get_data(as_text=True)
    shown = re.findall(r"data-colleague-fingerprint>([^<]+)<", page)
    assert "data-fingerprint-check" in page
    assert "對方金鑰的指紋" in page
    assert "指紋：<span" in page  # the organisation key's, with the language's colon
    theirs = app.test_client()
    sign_in(theirs, colleague)
    own = re.findall(
        r"data-own-key-fingerprint>([^<]+)<", theirs.get("/auth/account").get_data(as_text=True)
    )
    # Groups of hex digits that can be read aloud, not the raw key's "sDN/OpjMLqUI" (a review).
    assert own == shown == [crypto.fingerprint(colleague.public_key or "")[:19]]
    assert re.fullmatch(r"[0-9A-F]{4}( [0-9A-F]{4}){3}", shown[0])


def test_grant_stores_the_key_sealed_by_the_admins_browser(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    client, admin, org = admin_client
    colleague, colleague_secret = make_staff_with_keys(Role.CASEWORKER)
    assert colleague.email in client.get("/admin/keys").get_data(as_text=True)
    sealed = crypto.seal_key_grant(org.secret, colleague.public_key or "")
    response = post(
        client,
        "/admin/keys/grants",
        page="/admin/keys",
        user_id=colleague.id,
        org_key_id=org.key.id,
        sealed_org_secret=sealed,
        colleague_public_key=colleague.public_key,
    )
    assert response.status_code == 302
    grant = db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == colleague.id))
    assert grant is not None
    assert grant.granted_by_id == admin.id
    opened = crypto.unseal(crypto.b64decode_strict(grant.sealed_org_secret), colleague_secret)
    assert opened == org.secret
    assert db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "keys.granted", AuditEvent.target_id == str(colleague.id)
        )
    )
    # Revoking is audited too.
    revoke = f"/admin/keys/grants/{grant.id}/revoke"
    assert post(client, revoke, page="/admin/keys", confirmed="yes").status_code == 302
    db.session.refresh(grant)
    assert grant.revoked_at is not None


@pytest.mark.parametrize(
    "sealed",
    ["", "not base64!!", crypto.b64(b"x" * 79), crypto.b64(b"x" * 81), "A" * 10_000],
)
def test_hostile_grants_are_refused(
    admin_client: tuple[FlaskClient, User, Any], sealed: str
) -> None:
    client, _, org = admin_client
    colleague, _ = make_staff_with_keys(Role.CASEWORKER)
    response = post(
        client,
        "/admin/keys/grants",
        page="/admin/keys",
        user_id=colleague.id,
        org_key_id=org.key.id,
        sealed_org_secret=sealed,
        colleague_public_key=colleague.public_key,
    )
    assert response.status_code == 400
    assert db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == colleague.id)) is None


def test_an_admin_without_the_key_cannot_grant_it(app: Flask, client: FlaskClient) -> None:
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN)  # no grant of org
    colleague, _ = make_staff_with_keys(Role.CASEWORKER)
    sign_in(client, admin)
    response = post(
        client,
        "/admin/keys/grants",
        page="/admin/keys",
        user_id=colleague.id,
        org_key_id=org.key.id,
        sealed_org_secret=crypto.seal_key_grant(org.secret, colleague.public_key or ""),
        colleague_public_key=colleague.public_key,
    )
    assert response.status_code == 400
    assert db.session.scalar(sa.select(KeyGrant)) is None


def test_audit_chain_detects_an_edited_row(admin_client: tuple[FlaskClient, User, Any]) -> None:
    client, admin, _ = admin_client
    for n in range(5):
        audit.record("test.event", "thing", n, actor=admin)
    db.session.commit()
    assert audit.verify_chain().ok
    page = client.get("/admin/audit/verify").get_data(as_text=True)
    assert "data-chain-ok" in page
    victim = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id)).all()[2]
    db.session.execute(
        sa.text("UPDATE audit_events SET action = 'nothing.happened' WHERE id = :id"),
        {"id": victim},
    )
    db.session.commit()
    db.session.expire_all()
    check = audit.verify_chain()
    assert not check.ok
    assert check.first_bad_id == victim
    page = client.get("/admin/audit/verify").get_data(as_text=True)
    assert f'data-chain-broken="{victim}"' in page


def test_audit_chain_detects_a_deleted_row(app: Flask) -> None:
    admin = make_user(Role.ADMIN)
    for n in range(4):
        audit.record("test.event", "thing", n, actor=admin)
    db.session.commit()
    ids = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id)).all()
    db.session.execute(sa.text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[1]})
    db.session.commit()
    assert audit.verify_chain().first_bad_id == ids[2]


def test_audit_log_filters_and_refuses_bad_filters(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    client, admin, _ = admin_client
    audit.record("keys.granted", "user", 7, actor=admin)
    audit.record("auth.login", "user", 8, actor=admin)
    db.session.commit()
    page = client.get("/admin/audit?action=keys.&target_id=7").get_data(as_text=True)
    assert "keys.granted" in page
    assert 'data-action="auth.login"' not in page
    assert client.get("/admin/audit?since=yesterday").status_code == 400
    # A page number that is no page: the first (or the last), not an empty refusal.
    for asked in ("-3", "abc", "0", "99999999999", "²", "①", "0000000001"):
        shown = client.get(f"/admin/audit?page={asked}")
        assert shown.status_code == 200, asked
        assert 'data-action="keys.granted"' in shown.get_data(as_text=True), asked
    assert client.get("/admin/audit?action=" + "%25" * 100).status_code == 400
    assert client.get("/admin/audit?actor=%25_%5C").status_code == 200


def test_the_audit_target_type_is_a_choice_that_finds_a_referrals_events(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    """Typed free text, "referral" found nothing: a referral's events are its case's."""
    client, admin, _ = admin_client
    audit.record("referral.date_corrected", "case", 7, actor=admin, detail={"referral": 3})
    audit.record("auth.login", "user", 8, actor=admin)
    db.session.commit()
    page = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert '<select id="target_type" name="target_type">' in page
    assert '<option value="case">Case and its referrals</option>' in page
    html = client.get("/admin/audit?target_type=case").get_data(as_text=True)
    assert 'data-action="referral.date_corrected"' in html
    assert 'data-action="auth.login"' not in html
    chinese = client.get("/admin/audit?target_type=user&lang=zh_Hant").get_data(as_text=True)
    assert "案件及其轉介" in chinese
    assert 'data-action="auth.login"' in chinese
    refused = client.get("/admin/audit?target_type=referral")
    assert refused.status_code == 400
    assert "field-error" in refused.get_data(as_text=True)


def test_the_audit_log_is_filtered_by_the_words_it_shows_and_says_a_backwards_range(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    """The reviewer typed "Referral opened", the label the log shows: "No event matches"; only
    the code (referral.view) worked. An end date before the start also found 0, silently."""
    client, admin, _ = admin_client
    audit.record("referral.view", "case", 7, actor=admin)
    audit.record("auth.login", "user", 8, actor=admin)
    db.session.commit()
    for typed, lang in (("Referral opened", "en"), ("referral OPENED", "en"), ("referral.v", "en")):
        page = client.get("/admin/audit", query_string={"action": typed, "lang": lang})
        html = page.get_data(as_text=True)
        assert 'data-action="referral.view"' in html, typed
        assert 'data-action="auth.login"' not in html, typed
    label = str(audit_view.ACTION_LABELS["referral.view"])
    with client.application.test_request_context("/?lang=zh_Hant"):
        from flask_babel import force_locale

        with force_locale("zh_Hant"):
            chinese = str(audit_view.ACTION_LABELS["referral.view"])
    assert chinese != label
    html = client.get("/admin/audit", query_string={"action": chinese, "lang": "zh_Hant"}).text
    assert 'data-action="referral.view"' in html
    backwards = client.get("/admin/audit?since=2026-03-02&until=2026-03-01&lang=en")
    assert backwards.status_code == 400
    assert "The end date is before the start date." in backwards.get_data(as_text=True)


def test_the_only_key_holder_cannot_be_reset_or_deactivated(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN)  # holds no grant
    holder, _ = make_staff_with_keys(Role.CASEWORKER, org)
    sign_in(client, admin)
    for confirmed in ("", "yes"):  # refused when asked, and when confirmed anyway
        response = post(client, f"/admin/users/{holder.id}/reset-password", confirmed=confirmed)
        assert response.status_code == 302
        deactivation = post(client, f"/admin/users/{holder.id}/deactivate", confirmed=confirmed)
        assert deactivation.status_code == 302
    db.session.refresh(holder)
    assert holder.password_hash is not None
    assert holder.wrapped_secret_key is not None
    assert holder.is_active_account
    page = client.get("/admin/users").get_data(as_text=True)
    assert "only one holding the organisation key" in page
    assert db.session.scalar(sa.select(KeyGrant.revoked_at)) is None


def test_an_admin_cannot_reset_their_own_password_here(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    client, admin, _ = admin_client
    before = admin.password_hash
    post(client, f"/admin/users/{admin.id}/reset-password", confirmed="yes")
    db.session.refresh(admin)
    assert admin.password_hash == before


def rotation_form(org_public: str, sealed: dict[int, str]) -> dict[str, str]:
    """As admin-grants.js posts it: per holder the sealed secret and the key it was sealed to."""
    import json

    holders = {user_id: db.session.get(User, user_id) for user_id in sealed}
    sealed_to = {user_id: holder.public_key for user_id, holder in holders.items() if holder}
    assert sealed_to.keys() == sealed.keys(), "a holder of a sealed grant is not a user"
    return {
        "org_public_key": org_public,
        "grants": json.dumps(
            [
                {"user_id": k, "public_key": sealed_to[k], "sealed_org_secret": v}
                for k, v in sealed.items()
            ]
        ),
        "kit_seals": "[]",
        "understood": "y",
    }


def test_rotation_retires_the_key_and_seals_the_new_one_to_every_holder(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    client, admin, org = admin_client
    colleague, colleague_secret = make_staff_with_keys(Role.CASEWORKER, org)
    leaver, _ = make_staff_with_keys(Role.CASEWORKER, org)
    leaver_grant = db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == leaver.id))
    assert leaver_grant is not None
    assert (
        post(
            client,
            f"/admin/keys/grants/{leaver_grant.id}/revoke",
            page="/admin/keys",
            confirmed="yes",
        ).status_code
        == 302
    )
    new_public, new_secret = crypto.generate_keypair()
    sealed = {
        u.id: crypto.seal_key_grant(new_secret, u.public_key or "") for u in (admin, colleague)
    }
    response = post(
        client, "/admin/keys/rotate", page="/admin/keys", **rotation_form(new_public, sealed)
    )
    assert response.status_code == 302
    from intake.services import keys

    current = keys.current_org_key()
    assert current is not None
    assert current.public_key == new_public
    db.session.refresh(org.key)
    assert org.key.retired_at is not None
    grant = keys.active_grant(colleague, current)
    assert grant is not None
    assert (
        crypto.unseal(crypto.b64decode_strict(grant.sealed_org_secret), colleague_secret)
        == new_secret
    )
    assert keys.active_grant(leaver, current) is None
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "keys.rotated"))


@pytest.mark.parametrize(
    "problem",
    [
        "missing_holder",
        "stranger",
        "bad_json",
        "bad_blob",
        "bad_key",
        "no_sealed_to",
        "sealed_to_old_key",
        "deep_json",
        "not_confirmed",
        "bad_kit_seals",
        "unknown_kit",
    ],
)
def test_bad_rotations_change_nothing(
    admin_client: tuple[FlaskClient, User, Any], problem: str
) -> None:
    client, admin, org = admin_client
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, org)
    stranger, _ = make_staff_with_keys(Role.CASEWORKER)
    new_public, new_secret = crypto.generate_keypair()
    people = {"missing_holder": [admin], "stranger": [admin, colleague, stranger]}.get(
        problem, [admin, colleague]
    )
    sealed = {u.id: crypto.seal_key_grant(new_secret, u.public_key or "") for u in people}
    form = rotation_form(new_public, sealed)
    if problem == "bad_json":
        form["grants"] = '[{"user_id": "1", "sealed_org_secret": 5}]'
    elif problem == "bad_blob":
        form["grants"] = form["grants"].replace('"sealed_org_secret": "', '"sealed_org_secret": "!')
    elif problem == "bad_key":
        form["org_public_key"] = "<script>"
    elif problem == "no_sealed_to":
        form["grants"] = form["grants"].replace('"public_key"', '"publicKey"')
    elif problem == "sealed_to_old_key":
        # The colleague's password was reset and they enrolled again after the admin's page
        # loaded: the page sealed the new key to their old public key.
        old_key = colleague.public_key or ""
        colleague.public_key, _ = crypto.generate_keypair()
        db.session.commit()
        assert old_key in form["grants"]
    elif problem == "deep_json":
        form["grants"] = "[" * 100_000
    elif problem == "not_confirmed":
        del form["understood"]
    elif problem == "bad_kit_seals":
        form["kit_seals"] = '[{"kit_id": true}]'
    elif problem == "unknown_kit":
        form["kit_seals"] = json.dumps(
            [{"kit_id": 987654, "sealed_org_secret": crypto.seal_key_grant(new_secret, new_public)}]
        )
    response = post(client, "/admin/keys/rotate", page="/admin/keys", **form)
    assert response.status_code == 400
    db.session.refresh(org.key)
    assert org.key.retired_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KeyGrant)) == 2


def test_a_grant_sealed_to_a_key_the_colleague_no_longer_has_is_refused(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    """The admin's page sealed to the key it showed; the colleague's password was reset and
    they enrolled with a new keypair since. The grant could never be opened: refused."""
    client, _, org = admin_client
    colleague, _ = make_staff_with_keys(Role.CASEWORKER)
    shown_key = colleague.public_key or ""
    colleague.public_key, _ = crypto.generate_keypair()  # re-enrolled meanwhile
    db.session.commit()
    response = post(
        client,
        "/admin/keys/grants",
        page="/admin/keys",
        user_id=colleague.id,
        org_key_id=org.key.id,
        sealed_org_secret=crypto.seal_key_grant(org.secret, shown_key),
        colleague_public_key=shown_key,
    )
    assert response.status_code == 400
    assert "key changed while you were on this page" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == colleague.id)) is None
    # Without saying which key it sealed to, no grant either.
    response = post(
        client,
        "/admin/keys/grants",
        page="/admin/keys",
        user_id=colleague.id,
        org_key_id=org.key.id,
        sealed_org_secret=crypto.seal_key_grant(org.secret, colleague.public_key),
    )
    assert response.status_code == 400
    assert db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == colleague.id)) is None


def test_the_last_holder_of_a_key_keeps_their_grant(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    client, admin, org = admin_client
    colleague, _ = make_staff_with_keys(Role.CASEWORKER, org)
    grants = {
        grant.user_id: grant
        for grant in db.session.scalars(
            sa.select(KeyGrant).where(KeyGrant.org_key_id == org.key.id)
        )
    }
    # Two holders: one may go.
    revoke = "/admin/keys/grants/{}/revoke"
    post(client, revoke.format(grants[colleague.id].id), page="/admin/keys", confirmed="yes")
    db.session.refresh(grants[colleague.id])
    assert grants[colleague.id].revoked_at is not None
    # The admin is now the only one: revoking would leave every case unreadable.
    for confirmed in ("", "yes"):  # refused when asked, and when confirmed anyway
        response = post(
            client, revoke.format(grants[admin.id].id), page="/admin/keys", confirmed=confirmed
        )
        assert response.status_code == 302
    db.session.refresh(grants[admin.id])
    assert grants[admin.id].revoked_at is None
    assert "only one holding the organisation key" in client.get("/admin/keys").get_data(
        as_text=True
    )
    assert not db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "keys.revoked", AuditEvent.target_id == str(admin.id)
        )
    )


@pytest.mark.parametrize(
    "query",
    [
        "until=9999-12-31",
        "since=9999-12-31",
        "since=0001-01-01",
        "until=0001-01-01",
        "since=1999-12-31",
        "until=3000-01-01",
    ],
)
def test_audit_dates_out_of_range_are_a_clear_400(
    admin_client: tuple[FlaskClient, User, Any], query: str
) -> None:
    client, _, _ = admin_client
    response = client.get(f"/admin/audit?{query}")
    assert response.status_code == 400
    assert "Enter a date between 2000-01-01 and 2999-12-31." in response.get_data(as_text=True)


def test_audit_dates_at_the_edges_of_the_range_work(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    client, admin, _ = admin_client
    audit.record("test.edge", "thing", 1, actor=admin)
    db.session.commit()
    page = client.get("/admin/audit?since=2000-01-01&until=2999-12-31&action=test.")
    assert page.status_code == 200
    assert "test.edge" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["actor=a%00b", "action=%00", "target_id=1%00", "since=2020-01-01%00"]
)
def test_nul_bytes_in_audit_filters_are_a_400(
    admin_client: tuple[FlaskClient, User, Any], query: str
) -> None:
    client, _, _ = admin_client
    assert client.get(f"/admin/audit?{query}").status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/99999999999999999999/reset-password",
        "/admin/users/99999999999999999999/deactivate",
        "/admin/users/2147483648/role",
        "/admin/keys/grants/99999999999999999999/revoke",
    ],
)
def test_huge_ids_in_admin_paths_are_a_404(
    admin_client: tuple[FlaskClient, User, Any], path: str
) -> None:
    client, _, _ = admin_client
    assert post(client, path, role="viewer").status_code == 404


@pytest.mark.postgres
def test_hostile_audit_filters_on_postgres(pg_app: Flask) -> None:
    """PostgreSQL refuses NUL in text mid-transaction and has its own date limits: the same
    clear answers there, and the log still reads afterwards."""
    admin = make_user(Role.ADMIN)
    audit.record("test.pg", "thing", 1, actor=admin)
    db.session.commit()
    client = pg_app.test_client()
    sign_in(client, admin)
    for query in ("actor=a%00b", "target_type=%00", "until=9999-12-31", "since=0001-01-01"):
        assert client.get(f"/admin/audit?{query}").status_code == 400, query
    page = client.get("/admin/audit?since=2000-01-01&until=2999-12-31&action=test.")
    assert page.status_code == 200
    assert "test.pg" in page.get_data(as_text=True)


def test_the_rotation_hint_counts_holders_in_words_that_agree(
    admin_client: tuple[FlaskClient, User, Any],
) -> None:
    client, _admin, org = admin_client
    assert "(1 person)" in client.get("/admin/keys").get_data(as_text=True)
    make_staff_with_keys(Role.CASEWORKER, org)
    assert "(2 people)" in client.get("/admin/keys").get_data(as_text=True)


@pytest.mark.parametrize(("lang", "admin"), [("zh_Hant", "管理員"), ("zh_Hans", "管理员")])
def test_the_admin_role_is_named_as_a_person_in_chinese(
    admin_client: tuple[FlaskClient, User, Any], lang: str, admin: str
) -> None:
    """The role was 管理 ("administration", the Admin pages' name) in the users table and the
    role lists, but 管理員 ("administrator") in the invite form's choices (a review)."""
    client, _, _ = admin_client
    make_user(Role.CASEWORKER, email="colleague@example.org")
    page = client.get(f"/admin/users?lang={lang}").get_data(as_text=True)
    roles = re.findall(r'<option value="admin"[^>]*>([^<]*)</option>', page)
    assert roles, page
    assert all(role.startswith(admin) for role in roles), roles
