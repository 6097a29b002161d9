"""Staff pages complete in 简体中文 (DESIGN §7, issue #11): every message a staff page looks up
has a Simplified translation, and directory entries show their Chinese name and description
in the reader's script."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.models import ReferralKind, Role
from intake.services import directory as directory_service
from intake.services import referrals
from tests.auth.helpers import csrf_token
from tests.builders import make_case, make_org_key, make_staff_with_keys, sign_in
from tests.conftest import Untranslated

STAFF_PAGES = (
    "/cases/",
    "/referrals/",
    "/directory/",
    "/directory/frontline-defenders",
    "/directory/amnesty-international",
    "/reports/",
    "/admin/",
    "/admin/users",
    "/admin/keys",
    "/admin/audit",
    "/admin/reminders",
    "/admin/settings",
    "/auth/account",
    "/auth/unlock",
)


@pytest.fixture
def admin_with_a_case(app: Flask, client: FlaskClient) -> str:
    directory_service.import_shipped()
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org)
    case = make_case(org)
    referrals.create(case.id, "amnesty-international", ReferralKind.NGO_REFERRAL, actor=admin)
    sign_in(client, admin)
    return case.ref


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_every_staff_page_has_every_message_translated(
    client: FlaskClient, admin_with_a_case: str, untranslated: Untranslated, locale: str
) -> None:
    client.get(f"/cases/?lang={locale}")
    for path in (*STAFF_PAGES, f"/cases/{admin_with_a_case}"):
        untranslated.clear()
        response = client.get(path)
        assert response.status_code == 200, path
        assert f'<html lang="{locale.replace("_", "-")}"' in response.text, path
        assert not untranslated.messages, f"{path} in {locale}: {sorted(untranslated.messages)}"


def test_directory_entries_show_their_chinese_name_in_the_readers_script(
    client: FlaskClient, admin_with_a_case: str
) -> None:
    simplified = client.get("/directory/?lang=zh_Hans").text
    assert "国际特赦组织" in simplified  # Amnesty International, converted
    assert "國際特赦組織" not in simplified
    detail = client.get("/directory/frontline-defenders").text
    assert "通过24小时紧急热线" in detail  # the description, in Simplified script
    assert "Front Line Defenders" in detail  # no Chinese name: the English one
    assert "国际特赦组织" in client.get(f"/cases/{admin_with_a_case}").text

    traditional = client.get("/directory/?lang=zh_Hant").text
    assert "國際特赦組織" in traditional
    english = client.get("/directory/?lang=en").text
    assert "Amnesty International" in english


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_staff_pages_say_you_as_to_a_colleague_and_the_public_form_as_to_a_defender(
    app: Flask, client: FlaskClient, admin_with_a_case: str, locale: str
) -> None:
    """Staff Chinese says 你, the public pages 您: the footer on every page, written once for
    both, said 您 to caseworkers too."""
    polite = "您"
    client.get(f"/cases/?lang={locale}")
    for path in (*STAFF_PAGES, f"/cases/{admin_with_a_case}"):
        footer = client.get(path).text.split('<footer class="site-footer">')[1]
        assert "Refuge" in footer, path
        assert polite not in footer, path
        assert "你" in footer, path
    public = app.test_client().get(f"/request?lang={locale}").text
    assert polite in public.split('<footer class="site-footer">')[1]


@pytest.mark.parametrize(
    ("locale", "colleague", "defender"),
    [
        ("zh_Hans", "你的表单已过期", "您的表单已过期"),
        ("zh_Hant", "你的表單已過期", "您的表單已過期"),
    ],
)
def test_an_expired_form_says_you_to_a_colleague_and_to_a_defender_as_their_pages_do(
    app: Flask,
    client: FlaskClient,
    admin_with_a_case: str,
    locale: str,
    colleague: str,
    defender: str,
) -> None:
    """The refusal of a form without its CSRF token is written once for every page: on a staff
    page it said 您 to a caseworker, beside pages that say 你."""
    client.get(f"/cases/?lang={locale}")
    for path in ("/admin/settings", f"/cases/{admin_with_a_case}/assign", "/auth/reminders"):
        refused = client.post(path, data={"note": "x"})
        assert refused.status_code == 400, path
        assert colleague in refused.text, path
        assert "您" not in refused.text, path
    public = app.test_client()
    public.get(f"/request?lang={locale}")
    refused = public.post("/request", data={"what_happened": "x"})
    assert refused.status_code == 400
    assert defender in refused.text


@pytest.mark.parametrize(
    ("locale", "required", "other_script"),
    [
        ("zh_Hant", "此欄位是必需的。", "该字段是必填字段。"),
        ("zh_Hans", "该字段是必填字段。", "此欄位是必需的。"),
    ],
)
def test_a_staff_form_says_a_field_is_required_in_the_pages_script(
    client: FlaskClient, admin_with_a_case: str, locale: str, required: str, other_script: str
) -> None:
    """WTForms' own messages come from its catalogues, named by language: looked up by our
    locale, zh_Hant found "zh", the Simplified one, on Traditional staff pages."""
    client.get(f"/admin/users?lang={locale}")
    token = csrf_token(client, "/admin/users")
    refused = client.post("/admin/users", data={"csrf_token": token, "email": "", "role": ""})
    assert f'<html lang="{locale.replace("_", "-")}"' in refused.text
    assert required in refused.text
    assert other_script not in refused.text
