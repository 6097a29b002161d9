"""An admin's queue says when colleagues wait for the organisation key. It was a line on
/admin only ("1 colleague waits for the key"), with nothing where an admin spends the day
(an admin's walkthrough): a new colleague could wait for days."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from intake.models import Role
from tests.builders import give_key, make_org_key, make_staff_with_keys, make_user, sign_in

NOTICE = "data-waiting-for-key"


def test_an_admin_who_can_grant_sees_who_waits_for_the_key(app: Flask, client: FlaskClient) -> None:
    org = make_org_key()
    admin = give_key(make_user(Role.ADMIN), org)
    sign_in(client, admin)
    assert NOTICE not in client.get("/cases/").get_data(as_text=True)  # nobody waits

    waiting, _ = make_staff_with_keys(Role.CASEWORKER, None, email="new@example.org")
    make_staff_with_keys(Role.VIEWER, None, email="newer@example.org")
    page = client.get("/cases/").get_data(as_text=True)
    assert NOTICE in page
    assert "2 colleagues wait for the key" in page
    assert 'href="/admin/keys"' in page
    zh = client.get("/cases/?lang=zh_Hant").get_data(as_text=True)
    assert "2 位同事等待金鑰" in zh

    # Granted, they no longer wait.
    give_key(waiting, org)
    after = client.get("/cases/?lang=en").get_data(as_text=True)
    assert "1 colleague waits for the key" in after


def test_nobody_else_is_told_and_an_admin_without_the_key_is_not_asked_to_grant(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    make_staff_with_keys(Role.CASEWORKER, None, email="new@example.org")
    sign_in(client, give_key(make_user(Role.CASEWORKER), org))
    assert NOTICE not in client.get("/cases/").get_data(as_text=True)
    client.post("/auth/logout")
    sign_in(client, make_user(Role.ADMIN))  # holds no grant: cannot give one
    assert NOTICE not in client.get("/cases/").get_data(as_text=True)
