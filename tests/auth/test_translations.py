"""Staff pages of this area in 繁體中文 (DESIGN §7)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from intake.models import Role
from intake.services import setup_token
from tests.builders import make_org_key, make_staff_with_keys, sign_in


def test_sign_in_pages_in_traditional_chinese(client: FlaskClient) -> None:
    page = client.get("/login?lang=zh_Hant").get_data(as_text=True)
    assert "登入" in page
    assert "輸入密碼後" in page  # the hint below the form
    assert "密碼" in page
    token = setup_token.issue()
    setup = client.get(f"/setup?token={token}").get_data(as_text=True)
    assert "設定 Refuge" in setup


def test_admin_and_lock_state_in_traditional_chinese(app: Flask, client: FlaskClient) -> None:
    admin, _ = make_staff_with_keys(Role.ADMIN, make_org_key())
    sign_in(client, admin)
    client.get("/admin/?lang=zh_Hant")
    users = client.get("/admin/users").get_data(as_text=True)
    assert "工作人員帳號" in users
    assert "邀請同事" in users
    assert "金鑰已鎖定" in users  # the lock state in the header
    assert "稽核紀錄" in client.get("/admin/audit").get_data(as_text=True)
    assert "解鎖你的金鑰" in client.get("/auth/unlock").get_data(as_text=True)


def test_a_page_that_needs_signing_in_says_so_in_the_chosen_language(
    client: FlaskClient,
) -> None:
    """Flask-Login's own message was English on a Chinese sign-in page."""
    for language, said in (("zh_Hans", "请先登录"), ("zh_Hant", "請先登入"), ("en", "Sign in to")):
        client.get(f"/login?lang={language}")
        response = client.get("/cases/", follow_redirects=True)
        page = response.get_data(as_text=True)
        assert response.request.path == "/login"
        assert said in page, language
        assert "Please log in" not in page
