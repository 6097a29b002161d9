"""A colleague signed in before an admin gave them the organisation key sees every row as
"cannot be opened with your keys": the queue says why, and who can help, until the grant."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import KeyGrant, Role
from tests.builders import give_key, make_case, make_org_key, sign_in
from tests.conftest import Untranslated

NOTICE = "You cannot read cases yet: an admin has to give you access to the organisation key."


def _notice(client: FlaskClient, query: str = "") -> str | None:
    response = client.get(f"/cases/?{query}")
    assert response.status_code == 200
    notice = r'<p class="notice no-key" role="status"[^>]*>(.*?)</p>'
    found = re.search(notice, response.get_data(as_text=True), re.S)
    return " ".join(found.group(1).split()) if found else None


def test_a_caseworker_without_the_key_is_told_to_ask_an_admin_until_given_it(
    any_app: Flask,
) -> None:
    org = make_org_key()
    make_case(org)
    client = any_app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    notice = _notice(client)
    assert notice is not None
    assert NOTICE in notice
    assert "Ask an admin to give you access." in notice
    assert "/admin/keys" not in notice  # not theirs to open
    assert _notice(client, "view=all") is not None  # on every list

    give_key(me, org)
    assert _notice(client) is None

    # A revoked grant is no grant.
    grant = db.session.scalars(db.select(KeyGrant).where(KeyGrant.user_id == me.id)).one()
    grant.revoked_at = utcnow()
    db.session.commit()
    notice = _notice(client)
    assert notice is not None
    # Had one, so told it is gone and to ask for it again, not to ask for access.
    assert "Ask an admin to grant you the key again." in notice
    assert "Ask an admin to give you access." not in notice


def test_an_admin_without_the_key_gets_the_link_to_the_grants(any_app: Flask) -> None:
    org = make_org_key()
    make_case(org)
    client = any_app.test_client()
    sign_in(client, Role.ADMIN)
    notice = _notice(client)
    assert notice is not None
    assert 'href="/admin/keys"' in notice


def test_before_the_organisation_has_a_key_nothing_is_said_about_grants(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    assert _notice(client) is None


@pytest.mark.parametrize(
    ("locale", "words"),
    [("zh_Hans", "你还不能阅读案件"), ("zh_Hant", "你還不能閱讀案件")],
)
def test_the_notice_is_in_the_readers_language(
    app: Flask, untranslated: Untranslated, locale: str, words: Any
) -> None:
    make_org_key()
    client = app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    me.language = locale
    db.session.commit()
    untranslated.clear()
    notice = _notice(client, f"lang={locale}")
    assert notice is not None
    assert words in notice
    assert not untranslated.messages
