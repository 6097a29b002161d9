"""What the admin pages say about who can open the cases (a review as a new organisation):
no confirmed recovery kit is warned of however many hold the key; an admin without the key
is led to the recovery kit first; Revoke is not offered where it would be refused, and the
refusal says "you" of oneself."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import KeyGrant, RecoveryKit, Role, User
from intake.services import recovery
from tests.auth.helpers import csrf_token
from tests.auth.test_recovery_kit import kit_body
from tests.builders import OrgKeyPair, make_org_key, make_staff_with_keys, sign_in
from tests.conftest import Untranslated


@pytest.fixture
def two_holders(app: Flask, client: FlaskClient) -> tuple[FlaskClient, User, User, OrgKeyPair]:
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="first@example.org")
    other, _ = make_staff_with_keys(Role.ADMIN, org, email="second@example.org")
    sign_in(client, admin)
    return client, admin, other, org


def make_kit(admin: User, org: OrgKeyPair, *, confirm: bool = True) -> RecoveryKit:
    public, _secret, body = kit_body(org)
    kit = recovery.create_kit(admin, public, recovery.parse_seals(body["seals"]) or {})
    if confirm:
        recovery.confirm_kit(kit.id, admin)
    return kit


def revoke_grants_of(user: User) -> None:
    """As the operator's `flask users reset-password` leaves them (accounts.revoke_grants)."""
    db.session.execute(
        sa.update(KeyGrant).where(KeyGrant.user_id == user.id).values(revoked_at=utcnow())
    )
    db.session.commit()


# --- no confirmed recovery kit ---------------------------------------------------------------


def test_two_key_holders_without_a_confirmed_kit_are_warned_on_the_admin_pages(
    two_holders: tuple[FlaskClient, User, User, OrgKeyPair],
) -> None:
    client, admin, _other, org = two_holders
    for path in ("/admin/", "/admin/keys", "/admin/users"):
        page = client.get(path).get_data(as_text=True)
        assert "data-kit-warning" in page, path
        assert "data-custody-warning" not in page  # the lone holder's is another warning
    index = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/keys#recovery-heading">Make a recovery kit</a>' in index

    make_kit(admin, org)
    assert "data-kit-warning" not in client.get("/admin/").get_data(as_text=True)


def test_a_used_kit_leaves_a_warning_until_the_new_one_is_confirmed(
    two_holders: tuple[FlaskClient, User, User, OrgKeyPair],
) -> None:
    """Using the kit at /recover retires it and brings a new one that counts only once
    confirmed: two people held the key, so /admin/ said nothing meanwhile."""
    client, admin, _other, org = two_holders
    used = make_kit(admin, org)
    used.retired_at = utcnow()  # as recovery.recover leaves it
    db.session.commit()
    waiting = make_kit(admin, org, confirm=False)
    page = client.get("/admin/").get_data(as_text=True)
    assert "data-kit-warning" in page
    assert "data-kit-waiting" in page
    assert "A new kit waits for its confirmation" in page
    recovery.confirm_kit(waiting.id, admin)
    assert "data-kit-warning" not in client.get("/admin/").get_data(as_text=True)


def test_an_admin_without_the_key_is_told_who_can_make_the_kit(
    two_holders: tuple[FlaskClient, User, User, OrgKeyPair],
) -> None:
    client, admin, _other, _org = two_holders
    make_staff_with_keys(Role.ADMIN, _org)  # a third holder: the warning is not about one
    revoke_grants_of(admin)
    page = client.get("/admin/").get_data(as_text=True)
    assert "data-kit-warning" in page
    assert "An admin who holds the organisation key can make one:" in page


def test_a_lone_holder_without_a_kit_gets_one_warning_not_two(
    app: Flask, client: FlaskClient
) -> None:
    admin, _ = make_staff_with_keys(Role.ADMIN, make_org_key())
    sign_in(client, admin)
    page = client.get("/admin/").get_data(as_text=True)
    assert "data-custody-warning" in page
    assert "data-kit-warning" not in page


def test_a_caseworker_refused_an_admin_page_is_not_told_of_the_kit(
    two_holders: tuple[FlaskClient, User, User, OrgKeyPair],
) -> None:
    _client, _admin, _other, org = two_holders
    caseworker, _ = make_staff_with_keys(Role.CASEWORKER, org)
    other = _client.application.test_client()
    sign_in(other, caseworker)
    refused = other.get("/admin/")
    assert refused.status_code == 403
    assert "data-kit-warning" not in refused.get_data(as_text=True)


# --- an admin without the key (the operator reset her password) -----------------------------


def test_an_admin_without_the_key_is_led_to_the_recovery_kit_first(
    two_holders: tuple[FlaskClient, User, User, OrgKeyPair],
) -> None:
    client, admin, other, org = two_holders
    make_kit(other, org)
    revoke_grants_of(admin)
    keys_page = client.get("/admin/keys").get_data(as_text=True)
    way_back = keys_page.index('data-key-way-back="kit"')
    assert way_back < keys_page.index('id="waiting-heading"')  # before anything else
    assert 'href="/recover" data-recover-link>Use the recovery kit</a>' in keys_page
    assert "Or ask a colleague who holds the key to grant it to you: second@example.org." in (
        keys_page
    )
    # By her own name, no disabled "Grant the key": the way back.
    own = re.search(r"first@example\.org.*?</li>", keys_page, re.S)
    assert own is not None
    assert "data-own-row" in own.group(0)
    assert "Grant the key" not in own.group(0)
    # The case list leads there too, before the keys page.
    queue = client.get("/cases/").get_data(as_text=True)
    notice = re.search(r'<p class="notice no-key"[^>]*>.*?</p>', queue, re.S)
    assert notice is not None
    assert "Get it back first with the organisation's recovery kit." in notice.group(0)
    assert notice.group(0).index('href="/recover"') < notice.group(0).index('href="/admin/keys"')


def test_without_a_confirmed_kit_an_admin_without_the_key_is_sent_to_a_colleague(
    two_holders: tuple[FlaskClient, User, User, OrgKeyPair],
) -> None:
    client, admin, _other, _org = two_holders
    revoke_grants_of(admin)
    keys_page = client.get("/admin/keys").get_data(as_text=True)
    assert 'data-key-way-back="colleague"' in keys_page
    assert "grant it to you: second@example.org." in keys_page
    assert "data-recover-link" not in keys_page
    queue = client.get("/cases/").get_data(as_text=True)
    assert '<p class="notice no-key" role="status"' in queue
    assert 'href="/recover"' not in queue


def test_a_caseworker_whose_key_was_revoked_is_told_to_ask_for_it_again(
    two_holders: tuple[FlaskClient, User, User, OrgKeyPair],
) -> None:
    client, _admin, _other, org = two_holders
    caseworker, _ = make_staff_with_keys(Role.CASEWORKER, org)
    revoke_grants_of(caseworker)
    other = client.application.test_client()
    sign_in(other, caseworker)
    queue = other.get("/cases/").get_data(as_text=True)
    assert "Ask an admin to grant you the key again." in queue
    assert 'href="/recover"' not in queue
    newcomer, _ = make_staff_with_keys(Role.CASEWORKER)  # never held it: "give you access"
    sign_in(other, newcomer)
    assert "Ask an admin to give you access." in other.get("/cases/").get_data(as_text=True)


# --- revoking a grant --------------------------------------------------------------------------


def post(client: FlaskClient, path: str, **data: Any) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/keys"), **data})


def test_the_only_holder_is_not_offered_revoke_and_its_refusal_says_you(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org)
    sign_in(client, admin)
    grant = db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == admin.id))
    assert grant is not None
    page = client.get("/admin/keys").get_data(as_text=True)
    assert f"/admin/keys/grants/{grant.id}/revoke" not in page
    assert "data-last-holder" in page
    # Posted anyway (an old page, by hand): refused, and said of oneself as "you".
    for confirmed in ("", "yes"):
        answer = post(client, f"/admin/keys/grants/{grant.id}/revoke", confirmed=confirmed)
        assert answer.status_code == 302
        said = client.get("/admin/keys").get_data(as_text=True)
        assert "You are the only one holding the organisation key" in said
        assert "This colleague is the only one" not in said
    db.session.refresh(grant)
    assert grant.revoked_at is None


def test_with_two_holders_each_grant_can_be_revoked_and_a_colleague_alone_is_this_colleague(
    two_holders: tuple[FlaskClient, User, User, OrgKeyPair],
) -> None:
    client, admin, other, org = two_holders
    grants = {g.user_id: g for g in db.session.scalars(sa.select(KeyGrant))}
    page = client.get("/admin/keys").get_data(as_text=True)
    for grant in grants.values():
        assert f"/admin/keys/grants/{grant.id}/revoke" in page
    assert "data-last-holder" not in page
    # The admin's own goes; then the colleague holds it alone, and is refused as "this colleague".
    post(client, f"/admin/keys/grants/{grants[admin.id].id}/revoke", confirmed="yes")
    assert "data-key-way-back" in client.get("/admin/keys").get_data(as_text=True)
    post(client, f"/admin/keys/grants/{grants[other.id].id}/revoke", confirmed="yes")
    said = client.get("/admin/keys").get_data(as_text=True)
    assert "This colleague is the only one holding the organisation key" in said
    assert f"/admin/keys/grants/{grants[other.id].id}/revoke" not in said
    del org


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_what_these_pages_say_is_translated(
    two_holders: tuple[FlaskClient, User, User, OrgKeyPair],
    untranslated: Untranslated,
    locale: str,
) -> None:
    client, admin, other, org = two_holders
    client.get(f"/admin/?lang={locale}")
    untranslated.clear()
    make_kit(other, org, confirm=False)
    client.get("/admin/")  # the kit warning, a kit waiting
    revoke_grants_of(admin)
    client.get("/admin/keys")  # the way back, with no confirmed kit
    client.get("/cases/")
    make_kit(other, org)
    client.get("/admin/keys")  # the way back with the kit
    client.get("/cases/")
    lone = client.application.test_client()
    sign_in(lone, other)
    lone.get(f"/admin/keys?lang={locale}")  # the only holder left: no Revoke
    grant = db.session.scalar(sa.select(KeyGrant).where(KeyGrant.user_id == other.id))
    assert grant is not None
    post(lone, f"/admin/keys/grants/{grant.id}/revoke", confirmed="yes")
    said = lone.get("/admin/keys").get_data(as_text=True)
    only_you = {"zh_Hant": "你是唯一持有組織金鑰的人", "zh_Hans": "你是唯一持有组织密钥的人"}
    assert only_you[locale] in said
    assert not untranslated.messages, sorted(untranslated.messages)
