"""Which language a staff member's reminder e-mails come in: the one they chose, else the one
their pages are shown in, and the Account page says which."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import Role
from tests.builders import make_user, sign_in

CHINESE_BROWSER = {"Accept-Language": "zh-CN,zh;q=0.9"}


def test_the_browsers_language_is_kept_until_one_is_chosen(app: Flask, client: FlaskClient) -> None:
    me = sign_in(client, Role.CASEWORKER)
    client.get("/auth/account")
    db.session.refresh(me)
    assert me.language is None  # English pages: nothing to keep, the browser may change
    client.get("/auth/account", headers=CHINESE_BROWSER)
    db.session.refresh(me)
    assert me.language == "zh_Hans"
    client.get("/cases/?lang=en")  # chosen: kept over the browser's from now on
    page = client.get("/auth/account", headers={"Accept-Language": "zh-TW"})
    db.session.refresh(me)
    assert me.language == "en"
    assert "They come in English." in page.text


def test_a_language_chosen_before_signing_in_is_kept_for_the_reminders(
    app: Flask, client: FlaskClient
) -> None:
    me = sign_in(client, make_user(Role.CASEWORKER))
    with client.session_transaction() as session:
        session["lang"] = "zh_Hant"  # chosen on the sign-in page: start_session keeps it
    page = client.get("/cases/")
    assert '<html lang="zh-Hant"' in page.text
    db.session.refresh(me)
    assert me.language == "zh_Hant"


def test_the_account_page_says_which_language_reminders_come_in(
    app: Flask, client: FlaskClient
) -> None:
    me = sign_in(client, Role.VIEWER)
    english = client.get("/auth/account").text
    assert "They come in English. Choosing a language at the top of any page" in english
    me.language = "zh_Hans"
    db.session.commit()
    chinese = client.get("/auth/account").text
    assert "提醒邮件使用简体中文。" in chinese


def test_a_public_page_in_a_language_staff_pages_lack_is_not_kept(
    app: Flask, client: FlaskClient
) -> None:
    me = sign_in(client, Role.CASEWORKER)
    client.get("/request?lang=es")
    client.get("/cases/", headers={"Accept-Language": "es"})
    db.session.refresh(me)
    assert me.language is None
