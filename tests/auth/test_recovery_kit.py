"""The recovery kit over HTTP (real PostgreSQL): made only by a key holder, counted only once
confirmed, used only by a signed-in admin without the key; hostile bodies change nothing."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, KeyGrant, RecoveryKit, RecoverySeal, Role, User
from intake.services import keys, recovery
from tests.auth.helpers import csrf_token
from tests.builders import OrgKeyPair, json_of, make_org_key, make_staff_with_keys, sign_in

pytestmark = pytest.mark.postgres


@pytest.fixture
def lone_admin(pg_app: Flask) -> tuple[User, OrgKeyPair]:
    org = make_org_key()
    admin, _secret = make_staff_with_keys(Role.ADMIN, org, email="lone@example.org")
    return admin, org


def kit_body(org: OrgKeyPair, key: str | None = None) -> tuple[str, bytes, dict[str, str]]:
    normalised = crypto.normalise_recovery_key(key or crypto.new_recovery_key())
    assert normalised
    public, secret = crypto.recovery_keypair(normalised)
    seals = [
        {"org_key_id": org.key.id, "sealed_org_secret": crypto.seal_key_grant(org.secret, public)}
    ]
    return public, secret, {"kit_public_key": public, "seals": json.dumps(seals)}


def post(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/keys"), **data})


def counts() -> tuple[int, int, int, int]:
    return (
        db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryKit)) or 0,
        db.session.scalar(sa.select(sa.func.count()).select_from(RecoverySeal)) or 0,
        db.session.scalar(sa.select(sa.func.count()).select_from(KeyGrant)) or 0,
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(RecoveryKit)
            .where(RecoveryKit.retired_at.is_not(None))
        )
        or 0,
    )


def test_the_recovery_key_follows_its_format_and_derives_one_keypair() -> None:
    key = crypto.new_recovery_key()
    groups = key.split("-")
    assert len(groups) == 8
    assert all(len(group) == 4 for group in groups)
    normalised = crypto.normalise_recovery_key(key.lower().replace("0", "o").replace("-", " "))
    assert normalised == key.replace("-", "")
    assert crypto.recovery_keypair(normalised) == crypto.recovery_keypair(normalised)
    assert crypto.normalise_recovery_key(key[:-1]) is None
    assert crypto.normalise_recovery_key(key[:-1] + "U") is None


def test_a_kit_counts_only_once_confirmed_and_then_quiets_the_warning(
    pg_app: Flask, lone_admin: tuple[User, OrgKeyPair]
) -> None:
    admin, org = lone_admin
    client = pg_app.test_client()
    sign_in(client, admin)
    assert b"data-custody-warning" in client.get("/admin/").data
    public, _secret, body = kit_body(org)
    response = post(client, "/admin/keys/recovery-kit", body)
    assert response.status_code == 201, response.data
    kit_id = json_of(response)["kit_id"]
    assert recovery.custody_at_risk()  # not confirmed yet: nobody may rely on it
    keys_page = client.get("/admin/keys").get_data(as_text=True)
    assert "data-custody-warning" in keys_page
    # A rotation seals to it too (it may be confirmed later), and the list says it waits.
    assert f"Recovery kit #{kit_id} (waiting for its confirmation)</li>" in keys_page
    assert post(client, f"/admin/keys/recovery-kit/{kit_id}/confirm", {}).status_code == 200
    assert not recovery.custody_at_risk()
    # The page recovery.js opens next says so (before, only the kit's date changed).
    kept = "The new recovery kit is kept."
    confirmed_page = client.get("/admin/keys?kit=confirmed").get_data(as_text=True)
    assert kept in confirmed_page
    assert f"Recovery kit #{kit_id}</li>" in confirmed_page
    page = client.get("/admin/users").data
    assert b"data-custody-warning" not in page
    assert kept.encode() not in page  # said once
    kit = db.session.get(RecoveryKit, kit_id)
    assert kit is not None
    assert kit.public_key == public
    assert kit.confirmed_at is not None
    # Confirming twice, or someone else's kit, or none: refused.
    assert post(client, f"/admin/keys/recovery-kit/{kit_id}/confirm", {}).status_code == 404
    assert post(client, "/admin/keys/recovery-kit/987654/confirm", {}).status_code == 404
    assert client.post(f"/admin/keys/recovery-kit/{kit_id}/confirm").status_code == 400  # no CSRF
    assert kept not in client.get("/admin/keys").get_data(as_text=True)  # refusals say nothing


def test_a_kit_left_unconfirmed_for_an_hour_is_abandoned_neither_listed_nor_sealed_to(
    pg_app: Flask, lone_admin: tuple[User, OrgKeyPair]
) -> None:
    """A kit shown and never confirmed stayed listed as "waiting for its confirmation" for
    good, and every rotation sealed the new key to it, though its key was shown once on a page
    since left (a review in Chromium)."""
    admin, org = lone_admin
    client = pg_app.test_client()
    sign_in(client, admin)
    _public, _secret, body = kit_body(org)
    kit_id = json_of(post(client, "/admin/keys/recovery-kit", body))["kit_id"]
    assert [kit.id for kit in recovery.unretired_kits()] == [kit_id]
    kit = db.session.get_one(RecoveryKit, kit_id)
    kit.created_at = utcnow() - keys.KIT_CONFIRMATION_WINDOW - timedelta(minutes=1)
    db.session.commit()
    assert recovery.unretired_kits() == []
    assert f"Recovery kit #{kit_id}" not in client.get("/admin/keys").get_data(as_text=True)
    # Too late to confirm it, and said so ("does not exist or was replaced" was untrue).
    late = post(client, f"/admin/keys/recovery-kit/{kit_id}/confirm", {})
    assert late.status_code == 410
    assert "not confirmed within an hour" in late.get_data(as_text=True)
    assert db.session.get_one(RecoveryKit, kit_id).confirmed_at is None


def test_a_second_key_holder_also_quiets_the_warning(
    pg_app: Flask, lone_admin: tuple[User, OrgKeyPair]
) -> None:
    _admin, org = lone_admin
    assert recovery.custody_at_risk()
    make_staff_with_keys(Role.CASEWORKER, org)
    assert not recovery.custody_at_risk()


HOSTILE_KITS: list[dict[str, str]] = [
    {},
    {"kit_public_key": "", "seals": "[]"},
    {"seals": "not json"},
    {"seals": "{}"},
    {"seals": "[]"},
    {"seals": "[1]"},
    {"seals": json.dumps([{"org_key_id": True, "sealed_org_secret": "x"}])},
    {"seals": json.dumps([{"org_key_id": "1", "sealed_org_secret": "x"}])},
    {"seals": json.dumps([{"org_key_id": 987654, "sealed_org_secret": "A" * 108}])},
    {"seals": json.dumps([{"org_key_id": 2**40, "sealed_org_secret": "A" * 108}])},
    {"seals": "[" * 50_000},
    {"kit_public_key": "not base64!"},
    {"kit_public_key": "A" * 200},
]


@pytest.mark.parametrize("change", HOSTILE_KITS)
def test_hostile_kits_are_refused_and_write_nothing(
    pg_app: Flask, lone_admin: tuple[User, OrgKeyPair], change: dict[str, str]
) -> None:
    admin, org = lone_admin
    client = pg_app.test_client()
    sign_in(client, admin)
    _public, _secret, body = kit_body(org)
    if "seals" in change and "{org}" in change["seals"]:
        change = {**change, "seals": change["seals"].replace("{org}", str(org.key.id))}
    body.update(change)
    if not change:
        body = {}
    before = counts()
    response = post(client, "/admin/keys/recovery-kit", body)
    assert 400 <= response.status_code < 500
    assert response.is_json
    assert counts() == before


def test_a_kit_must_hold_the_current_key_and_only_a_holder_may_make_one(
    pg_app: Flask, lone_admin: tuple[User, OrgKeyPair]
) -> None:
    admin, org = lone_admin
    other_org = make_org_key()  # now the current key; the admin holds only the older one
    client = pg_app.test_client()
    sign_in(client, admin)
    _public, _secret, body = kit_body(org)
    response = post(client, "/admin/keys/recovery-kit", body)
    assert response.status_code == 400
    assert counts()[0] == 0
    keyless, _ = make_staff_with_keys(Role.ADMIN, email="keyless@example.org")
    other = pg_app.test_client()
    sign_in(other, keyless)
    _public, _secret, body = kit_body(other_org)
    assert post(other, "/admin/keys/recovery-kit", body).status_code == 400
    assert counts()[0] == 0


def make_confirmed_kit(admin: User, org: OrgKeyPair) -> tuple[RecoveryKit, bytes]:
    public, secret, body = kit_body(org)
    kit = recovery.create_kit(admin, public, recovery.parse_seals(body["seals"]) or {})
    recovery.confirm_kit(kit.id, admin)
    return kit, secret


def opened_proof(client: FlaskClient, kit_secret: bytes) -> str:
    """The proof /recover/kit seals to the kit, opened as recovery.js opens it."""
    sealed = json_of(client.get("/recover/kit"))["proof"]
    return crypto.unseal(crypto.b64decode_strict(sealed), kit_secret).decode()


def recover_body(
    kit: RecoveryKit, kit_secret: bytes, user: User, client: FlaskClient
) -> dict[str, str]:
    """What /recover's page posts: each sealed copy opened with the kit, sealed to ``user``."""
    grants, new_seals = [], []
    new_public, _ = crypto.recovery_keypair(
        crypto.normalise_recovery_key(crypto.new_recovery_key()) or ""
    )
    for seal in kit.seals:
        secret = crypto.unseal(crypto.b64decode_strict(seal.sealed_org_secret), kit_secret)
        grants.append(
            {
                "org_key_id": seal.org_key_id,
                "sealed_org_secret": crypto.seal_key_grant(secret, user.public_key or ""),
            }
        )
        new_seals.append(
            {
                "org_key_id": seal.org_key_id,
                "sealed_org_secret": crypto.seal_key_grant(secret, new_public),
            }
        )
    return {
        "kit_id": str(kit.id),
        "proof": opened_proof(client, kit_secret),
        "grants": json.dumps(grants),
        "sealed_to": user.public_key or "",
        "new_kit_public_key": new_public,
        "new_kit_seals": json.dumps(new_seals),
    }


def test_recovery_grants_the_key_retires_the_kit_and_is_audited(
    pg_app: Flask, lone_admin: tuple[User, OrgKeyPair]
) -> None:
    admin, org = lone_admin
    kit, kit_secret = make_confirmed_kit(admin, org)
    # The admin's password was reset: a new keypair, no grant (as the operator's reset leaves it).
    db.session.execute(sa.update(KeyGrant).values(revoked_at=sa.func.now()))
    db.session.commit()
    newcomer, new_secret = make_staff_with_keys(Role.ADMIN, email="again@example.org")
    client = pg_app.test_client()
    sign_in(client, newcomer)
    assert b"data-recover" in client.get("/recover").data
    payload = json_of(client.get("/recover/kit"))
    assert payload["kit_public_key"] == kit.public_key
    body = recover_body(kit, kit_secret, newcomer, client)
    response = client.post("/recover", data={"csrf_token": csrf_token(client, "/recover"), **body})
    assert response.status_code == 201, response.data
    db.session.expire_all()
    grant = db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == newcomer.id))
    assert grant is not None
    opened = crypto.unseal(crypto.b64decode_strict(grant.sealed_org_secret), new_secret)
    assert opened == org.secret
    used = db.session.get(RecoveryKit, kit.id)
    assert used is not None
    assert used.retired_at is not None
    new_kit = db.session.get(RecoveryKit, json_of(response)["kit_id"])
    assert new_kit is not None
    assert new_kit.confirmed_at is None
    assert [seal.org_key_id for seal in new_kit.seals] == [org.key.id]
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"keys.recovery_kit_used", "keys.granted", "keys.recovery_kit_created"} <= actions
    # The used kit opens nothing any more; a second use is refused.
    again = client.post("/recover", data={"csrf_token": csrf_token(client, "/recover"), **body})
    assert again.status_code == 400


def hostile_recoveries(body: dict[str, str]) -> list[dict[str, str]]:
    grants = json.loads(body["grants"])
    return [
        {},
        {**body, "kit_id": "abc"},
        {**body, "kit_id": "987654"},
        {**body, "grants": "[]"},
        {**body, "grants": "nonsense"},
        {**body, "grants": json.dumps([{**grants[0], "sealed_org_secret": "AAAA"}])},
        {**body, "grants": json.dumps(grants + grants)},
        {**body, "grants": json.dumps([{**grants[0], "org_key_id": 987654}])},
        {**body, "sealed_to": crypto.generate_keypair()[0]},
        {**body, "new_kit_public_key": "not a key"},
        {**body, "new_kit_seals": "[]"},
        {
            **body,
            "new_kit_public_key": db.session.scalars(sa.select(RecoveryKit.public_key)).first()
            or "",
        },
    ]


def test_hostile_recoveries_are_refused_and_write_nothing(
    pg_app: Flask, lone_admin: tuple[User, OrgKeyPair]
) -> None:
    admin, org = lone_admin
    kit, kit_secret = make_confirmed_kit(admin, org)
    db.session.execute(sa.update(KeyGrant).values(revoked_at=sa.func.now()))
    db.session.commit()
    newcomer, _ = make_staff_with_keys(Role.ADMIN, email="again@example.org")
    client = pg_app.test_client()
    sign_in(client, newcomer)
    body = recover_body(kit, kit_secret, newcomer, client)
    before = counts()
    for hostile in hostile_recoveries(body):
        response = client.post(
            "/recover", data={"csrf_token": csrf_token(client, "/recover"), **hostile}
        )
        assert 400 <= response.status_code < 500, hostile
        assert response.is_json
        db.session.expire_all()
        assert counts() == before, hostile
    assert client.post("/recover", data=body).status_code == 400  # no CSRF token
    # An anonymous visitor cannot use it at all (refused before anything is read).
    anonymous = pg_app.test_client().post("/recover", data=body)
    assert anonymous.status_code == 400 or "/login" in anonymous.headers.get("Location", "")
    assert counts() == before


def test_an_admin_without_the_recovery_key_cannot_pass_for_a_key_holder(
    pg_app: Flask, lone_admin: tuple[User, OrgKeyPair]
) -> None:
    """The server cannot open the grants /recover is sent. A security review showed a key-less
    admin posting made-up grants: counted as a key holder, they replaced the kit, passed the
    last-holder guard and rotated the organisation key to one of their own. Now the browser
    must bring back the proof sealed to the kit, which only the recovery key opens, and which
    is bound to the admin asking (another admin's opened proof does not serve)."""
    admin, org = lone_admin
    kit, kit_secret = make_confirmed_kit(admin, org)
    db.session.commit()
    intruder, _ = make_staff_with_keys(Role.ADMIN, email="intruder@example.org")
    honest, _ = make_staff_with_keys(Role.ADMIN, email="honest@example.org")
    client = pg_app.test_client()
    sign_in(client, intruder)
    made_up = {
        "kit_id": str(kit.id),
        "grants": json.dumps(
            [{"org_key_id": org.key.id, "sealed_org_secret": crypto.b64(os.urandom(80))}]
        ),
        "sealed_to": intruder.public_key or "",
        "new_kit_public_key": crypto.generate_keypair()[0],
        "new_kit_seals": json.dumps(
            [{"org_key_id": org.key.id, "sealed_org_secret": crypto.b64(os.urandom(80))}]
        ),
    }
    honest_client = pg_app.test_client()
    sign_in(honest_client, honest)
    someone_elses = opened_proof(honest_client, kit_secret)
    before = counts()
    for proof in (None, "", "0" * 64, someone_elses):
        body = dict(made_up) if proof is None else {**made_up, "proof": proof}
        response = client.post(
            "/recover", data={"csrf_token": csrf_token(client, "/recover"), **body}
        )
        assert response.status_code in (400, 403), proof
        assert response.is_json
        db.session.expire_all()
        assert counts() == before, proof
    assert not keys.holds_current_key(intruder)
    refused = json_of(
        client.post(
            "/recover",
            data={"csrf_token": csrf_token(client, "/recover"), **made_up, "proof": "0" * 64},
        )
    )
    assert refused["error"] == "no_proof"
    assert "recovery key" in refused["message"]
    # With the recovery key, the same admin gets the key (the proof is theirs).
    response = client.post(
        "/recover",
        data={
            "csrf_token": csrf_token(client, "/recover"),
            **recover_body(kit, kit_secret, intruder, client),
        },
    )
    assert response.status_code == 201, response.data
    db.session.expire_all()
    assert keys.holds_current_key(intruder)


def test_the_kit_never_signs_anyone_in(pg_app: Flask, lone_admin: tuple[User, OrgKeyPair]) -> None:
    """Neither the recovery key nor anything derived from it is a sign-in proof; and every
    route that takes the kit wants a signed-in admin first."""
    admin, org = lone_admin
    key = crypto.new_recovery_key()
    public, secret, _ = kit_body(org, key)
    client = pg_app.test_client()
    for proof in (key, key.replace("-", ""), crypto.b64(secret), public):
        response = client.post(
            "/login",
            data={
                "csrf_token": csrf_token(client, "/login"),
                "email": admin.email,
                "auth_secret": proof,
                "password": proof,
            },
        )
        assert response.status_code in (200, 400, 401, 429)
        assert client.get("/recover").status_code == 302  # still signed out
    for path in ("/recover", "/recover/kit"):
        assert "/login" in client.get(path).headers["Location"]


def test_rotation_seals_the_new_key_to_the_kit_in_force(
    pg_app: Flask, lone_admin: tuple[User, OrgKeyPair]
) -> None:
    from intake.services import keys

    admin, org = lone_admin
    kit, kit_secret = make_confirmed_kit(admin, org)
    new_public, new_secret = crypto.generate_keypair()
    grants = {admin.id: crypto.seal_key_grant(new_secret, admin.public_key or "")}
    with pytest.raises(keys.KeyOperationError):
        keys.rotate(admin, new_public, grants, {admin.id: admin.public_key or ""}, kit_seals={})
    new_key = keys.rotate(
        admin,
        new_public,
        grants,
        {admin.id: admin.public_key or ""},
        kit_seals={kit.id: crypto.seal_key_grant(new_secret, kit.public_key)},
    )
    seals = {seal.org_key_id: seal for seal in db.session.scalars(sa.select(RecoverySeal))}
    assert set(seals) == {org.key.id, new_key.id}
    opened = crypto.unseal(crypto.b64decode_strict(seals[new_key.id].sealed_org_secret), kit_secret)
    assert opened == new_secret


def test_a_caseworker_refused_an_admin_page_is_not_shown_the_admins_warning(
    pg_app: Flask, lone_admin: tuple[User, OrgKeyPair]
) -> None:
    """The warning links to /admin/keys, which refuses a caseworker too: on their 403 page it
    was an alarm they can do nothing about."""
    client = pg_app.test_client()
    sign_in(client, Role.CASEWORKER)  # no key of their own: the admin is still its lone holder
    assert recovery.custody_at_risk()
    for path in ("/admin/", "/admin/keys"):
        response = client.get(path)
        assert response.status_code == 403
        assert b"data-custody-warning" not in response.data, path
