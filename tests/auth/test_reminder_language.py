"""Which language a staff member's reminder e-mails come in: the one they chose, else the one
they signed in in (chosen on the sign-in page, or their browser's), and the Account page says
which."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import Role
from tests.auth.helpers import sign_in_through_forms
from tests.builders import make_user, sign_in


def test_the_browsers_language_at_sign_in_is_kept_until_one_is_chosen(
    app: Flask, client: FlaskClient
) -> None:
    me = make_user(Role.CASEWORKER)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    assert sign_in_through_forms(client, me).status_code == 302
    db.session.refresh(me)
    assert me.language == "zh_Hans"
    client.get("/cases/?lang=en")  # chosen: kept over the browser's from now on
    page = client.get("/auth/account")
    db.session.refresh(me)
    assert me.language == "en"
    assert "They come in English." in page.text


def test_a_language_chosen_on_the_sign_in_page_is_kept_for_the_reminders(
    app: Flask, client: FlaskClient
) -> None:
    me = make_user(Role.CASEWORKER)
    client.get("/login?lang=zh_Hant")
    assert sign_in_through_forms(client, me).status_code == 302
    db.session.refresh(me)
    assert me.language == "zh_Hant"


def test_signing_in_in_english_or_after_a_choice_keeps_what_there_was(
    app: Flask, client: FlaskClient
) -> None:
    """English, the default, is not kept: a browser in another language later still counts."""
    english = make_user(Role.CASEWORKER)
    assert sign_in_through_forms(client, english).status_code == 302
    db.session.refresh(english)
    assert english.language is None
    chose = make_user(Role.CASEWORKER)
    chose.language = "en"
    db.session.commit()
    other = FlaskClient(app, app.response_class)
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-TW"
    assert sign_in_through_forms(other, chose).status_code == 302
    db.session.refresh(chose)
    assert chose.language == "en"


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
