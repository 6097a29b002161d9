"""A new organisation's admin is told the next steps (a review as a new organisation): /admin/
lists them as "Getting started", each ticked by what is so and linking to where it is done;
the empty case list points there; the list goes once all is done, or when hidden."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import AuditEvent, OrgSetting, Role, User
from intake.services import accounts, audit, recovery
from intake.services import settings as org_settings
from tests.auth.helpers import csrf_token
from tests.auth.test_recovery_kit import kit_body
from tests.builders import OrgKeyPair, give_key, make_org_key, make_staff_with_keys, sign_in
from tests.conftest import Untranslated

STEPS = ("invite", "second_holder", "recovery_kit", "timezone", "profile")
FULL_PROFILE = {
    "org_name": "Frontline Shelter",
    "org_description": "We help defenders at risk.",
    "org_response_time": "Within two working days",
    "org_contact": "help@shelter.example",
    "org_onion": "",
}


@pytest.fixture
def new_org(app: Flask, client: FlaskClient) -> tuple[FlaskClient, User, OrgKeyPair]:
    """What /setup leaves without the kit (no JavaScript for it): one admin holding the key."""
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="first@example.org")
    sign_in(client, admin)
    return client, admin, org


def steps_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-step="(\w+)" data-done="(yes|no)"', page))


def confirmed_kit(admin: User, org: OrgKeyPair) -> None:
    public, _secret, body = kit_body(org)
    kit = recovery.create_kit(admin, public, recovery.parse_seals(body["seals"]) or {})
    recovery.confirm_kit(kit.id, admin)


def test_a_new_organisation_sees_its_next_steps_each_linking_to_where_it_is_done(
    new_org: tuple[FlaskClient, User, OrgKeyPair],
) -> None:
    client, _admin, org = new_org
    page = client.get("/admin/").get_data(as_text=True)
    assert "data-getting-started" in page
    assert steps_of(page) == dict.fromkeys(STEPS, "no")
    assert "5 steps left" in page
    for link in (
        'href="/admin/users#invite-heading"',
        'href="/admin/keys#waiting-heading"',
        'href="/admin/keys#recovery-heading"',
        'href="/admin/settings#timezone-form"',
        'href="/admin/settings#profile-title"',
    ):
        assert link in page, link
    # Why the profile matters, and the fingerprint to publish (not a step: nothing can tell).
    assert "the public pages say only “Refuge”" in page
    assert "data-publish-fingerprint" in page
    assert org.key.fingerprint in page
    # The anchors exist where the links lead.
    assert 'id="invite-heading"' in client.get("/admin/users").get_data(as_text=True)
    settings_page = client.get("/admin/settings").get_data(as_text=True)
    assert 'id="timezone-form"' in settings_page
    assert 'id="profile-title"' in settings_page
    keys_page = client.get("/admin/keys").get_data(as_text=True)
    assert 'id="waiting-heading"' in keys_page
    assert 'id="recovery-heading"' in keys_page


def test_each_step_ticks_itself_from_what_is_so_and_the_list_goes_when_all_are_done(
    new_org: tuple[FlaskClient, User, OrgKeyPair],
) -> None:
    client, admin, org = new_org
    colleague = accounts.create_user("second@example.org", Role.ADMIN, actor=admin)
    page = client.get("/admin/").get_data(as_text=True)
    assert steps_of(page)["invite"] == "yes"
    assert steps_of(page)["second_holder"] == "no"

    give_key(colleague, org)
    assert steps_of(client.get("/admin/").get_data(as_text=True))["second_holder"] == "yes"

    confirmed_kit(admin, org)
    assert steps_of(client.get("/admin/").get_data(as_text=True))["recovery_kit"] == "yes"

    org_settings.set_timezone("Asia/Taipei", admin)
    assert steps_of(client.get("/admin/").get_data(as_text=True))["timezone"] == "yes"

    # A profile half written says what is missing, by the settings form's labels.
    org_settings.set_org_profile({**FULL_PROFILE, "org_contact": "", "org_description": ""}, admin)
    page = client.get("/admin/").get_data(as_text=True)
    assert steps_of(page)["profile"] == "no"
    assert "1 step left" in page
    assert "Still missing: Short description and Public contact." in page

    org_settings.set_org_profile(FULL_PROFILE, admin)
    page = client.get("/admin/").get_data(as_text=True)
    assert "data-getting-started" not in page
    assert "data-show-getting-started" not in page  # nothing left to show again
    assert "data-getting-started-pointer" not in client.get("/cases/").get_data(as_text=True)


def test_a_time_zone_the_operator_set_counts_and_utc_chosen_on_the_page_counts(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app("sqlite", ORG_TIMEZONE="Europe/Madrid")
    with app.app_context():
        admin, _ = make_staff_with_keys(Role.ADMIN, make_org_key())
        client = app.test_client()
        sign_in(client, admin)
        assert steps_of(client.get("/admin/").get_data(as_text=True))["timezone"] == "yes"
        app.config["ORG_TIMEZONE"] = "UTC"  # the default: nobody chose it
        assert steps_of(client.get("/admin/").get_data(as_text=True))["timezone"] == "no"
        org_settings.set_timezone("UTC", admin)  # an admin did
        assert steps_of(client.get("/admin/").get_data(as_text=True))["timezone"] == "yes"


def test_the_empty_case_list_points_an_admin_to_the_list_and_nobody_else(
    new_org: tuple[FlaskClient, User, OrgKeyPair],
) -> None:
    client, _admin, org = new_org
    queue = client.get("/cases/").get_data(as_text=True)
    assert "data-getting-started-pointer" in queue
    assert 'href="/admin/#getting-started-heading"' in queue
    caseworker, _ = make_staff_with_keys(Role.CASEWORKER, org)
    other = client.application.test_client()
    sign_in(other, caseworker)
    assert "data-getting-started-pointer" not in other.get("/cases/").get_data(as_text=True)


def post_shown(client: FlaskClient, **data: Any) -> Any:
    return client.post(
        "/admin/getting-started", data={"csrf_token": csrf_token(client, "/admin/"), **data}
    )


def test_the_list_can_be_hidden_and_shown_again(
    new_org: tuple[FlaskClient, User, OrgKeyPair],
) -> None:
    client, _admin, _org = new_org
    hidden = post_shown(client, show="no")
    assert hidden.status_code == 302
    assert hidden.headers["Location"].endswith("/admin/")
    page = client.get("/admin/").get_data(as_text=True)
    assert "data-getting-started" not in page
    assert "data-show-getting-started" in page
    assert "data-getting-started-pointer" not in client.get("/cases/").get_data(as_text=True)
    assert post_shown(client, show="yes").status_code == 302
    assert "data-getting-started" in client.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize(
    "data",
    [{}, {"show": "maybe"}, {"show": ["no", "yes"]}, {"show": "no\x00"}, {"show": "n" * 5000}],
)
def test_hostile_posts_to_hide_the_list_are_refused_and_change_nothing(
    new_org: tuple[FlaskClient, User, OrgKeyPair], data: dict[str, Any]
) -> None:
    client, _admin, _org = new_org
    assert post_shown(client, **data).status_code == 400
    assert db.session.get(OrgSetting, org_settings.GETTING_STARTED_HIDDEN) is None
    # Without the CSRF token: refused too.
    assert client.post("/admin/getting-started", data={"show": "no"}).status_code == 400
    assert db.session.get(OrgSetting, org_settings.GETTING_STARTED_HIDDEN) is None


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_the_list_and_the_pointer_are_translated(
    new_org: tuple[FlaskClient, User, OrgKeyPair], untranslated: Untranslated, locale: str
) -> None:
    client, admin, _org = new_org
    client.get(f"/admin/?lang={locale}")
    untranslated.clear()
    page = client.get("/admin/").get_data(as_text=True)
    assert "開始使用" in page or "开始使用" in page
    assert "還有 5 個步驟" in page or "还有 5 个步骤" in page
    client.get("/cases/")
    org_settings.set_org_profile({**FULL_PROFILE, "org_contact": ""}, admin)
    partly = client.get("/admin/").get_data(as_text=True)
    missing = {"zh_Hant": "尚未填寫：公開聯絡方式。", "zh_Hans": "尚未填写：公开联系方式。"}
    assert missing[locale] in partly
    post_shown(client, show="no")
    client.get("/admin/")
    assert not untranslated.messages, sorted(untranslated.messages)


def test_hiding_and_showing_the_list_are_audited_and_read_on_the_audit_page(
    new_org: tuple[FlaskClient, User, OrgKeyPair],
) -> None:
    """Every other change to the organisation's settings is audited; hiding the list (for
    every admin) was not. Fails on the code before: no event was recorded."""
    client, admin, _org = new_org

    def events() -> list[AuditEvent]:
        return list(
            db.session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.action.startswith("settings.getting_started"))
                .order_by(AuditEvent.id)
            )
        )

    post_shown(client, show="no")
    post_shown(client, show="no")  # already hidden: nothing changed, nothing recorded
    post_shown(client, show="yes")
    recorded = events()
    assert [event.action for event in recorded] == [
        "settings.getting_started_hidden",
        "settings.getting_started_shown",
    ]
    assert {(event.actor_id, event.target_type) for event in recorded} == {(admin.id, "settings")}
    assert audit.verify_chain().ok

    for lang, hidden, shown in (
        ("en", "“Getting started” list hidden", "“Getting started” list shown again"),
        ("zh_Hant", "「開始使用」清單已隱藏", "「開始使用」清單已再次顯示"),
        ("zh_Hans", "“开始使用”清单已隐藏", "“开始使用”清单已再次显示"),
    ):
        html = client.get(f"/admin/audit?lang={lang}").get_data(as_text=True)
        hidden_row = html[html.index(f'<tr data-event="{recorded[0].id}">') :]
        hidden_row = hidden_row[: hidden_row.index("</tr>")]
        assert hidden in hidden_row, lang
        assert "settings.getting_started_hidden" in hidden_row  # the code stays beside it
        assert shown in html, lang
