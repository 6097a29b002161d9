"""/setup needs the one-time token printed on the operator's console until an account exists."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import OrgSetting, User
from intake.services import setup_token
from tests.auth.test_setup_and_account import cheap_key_wrapping, setup_form  # noqa: F401


def test_without_a_token_setup_is_a_clear_403_in_the_visitors_language(
    client: FlaskClient,
) -> None:
    response = client.get("/setup")
    assert response.status_code == 403
    assert "setup-token" in response.text
    assert 'name="password"' not in response.text
    assert client.get("/setup?token=guessed").status_code == 403
    chinese = client.get("/setup?lang=zh_Hant")
    assert chinese.status_code == 403
    assert "一次性連結" in chinese.text


def test_a_post_without_the_token_creates_nothing(app: Flask, client: FlaskClient) -> None:
    form = setup_form(client)
    form["setup_token"] = "not-the-token"
    assert client.post("/setup", data=form).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_the_token_is_carried_by_the_form_and_spent_by_the_first_account(
    app: Flask, client: FlaskClient
) -> None:
    token = setup_token.issue()
    page = client.get(f"/setup?token={token}")
    assert page.status_code == 200
    assert f'name="setup_token" type="hidden" value="{token}"' in page.text
    form = setup_form(client)  # issues a newer token: the first one stops working
    assert setup_token.is_valid(token) is False
    assert client.post("/setup", data=form).status_code == 200
    assert db.session.get(OrgSetting, setup_token.SETTING) is None
    assert setup_token.is_valid(form["setup_token"]) is False
    assert client.get(f"/setup?token={form['setup_token']}").status_code == 404


def test_setup_token_command_prints_the_link_on_the_served_port(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "5123")
    monkeypatch.delenv("BIND_HOST", raising=False)
    app.config["PUBLIC_BASE_URL"] = None
    output = app.test_cli_runner().invoke(args=["setup-token"]).output
    match = re.search(r"http://localhost:5123/setup\?token=(\S+)", output)
    assert match, output
    assert setup_token.is_valid(match.group(1))
    db.session.add(User(email="a@example.org"))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["setup-token"])
    assert result.exit_code == 0
    assert "token=" not in result.output


def test_setup_token_command_prints_the_public_address_when_one_is_set(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "5123")
    app.config["PUBLIC_BASE_URL"] = "https://intake.example.org"
    output = app.test_cli_runner().invoke(args=["setup-token"]).output
    assert re.search(r"https://intake\.example\.org/setup\?token=\S+", output), output
