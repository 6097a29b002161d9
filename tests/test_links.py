"""Links in e-mails and on the operator's console: PUBLIC_BASE_URL, else the address the web
process really serves (BIND_HOST and PORT, as config/gunicorn.py binds)."""

from __future__ import annotations

import pytest
from flask import Flask

from config.address import served_address
from intake.links import external_link


@pytest.mark.parametrize(
    ("environ", "address"),
    [
        ({}, "http://127.0.0.1:5000"),
        ({"PORT": "5001"}, "http://127.0.0.1:5001"),
        ({"BIND_HOST": "0.0.0.0", "PORT": "8080"}, "http://127.0.0.1:8080"),  # noqa: S104
        ({"BIND_HOST": "10.1.2.3"}, "http://10.1.2.3:5000"),
        ({"BIND_HOST": "::1", "PORT": "5002"}, "http://[::1]:5002"),
        ({"BIND_HOST": "::", "PORT": "5002"}, "http://127.0.0.1:5002"),
    ],
)
def test_the_served_address_follows_bind_host_and_port(
    environ: dict[str, str], address: str
) -> None:
    assert served_address(environ) == address


def test_e_mail_links_fall_back_to_the_served_port_without_public_base_url(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["PUBLIC_BASE_URL"] = None
    monkeypatch.delenv("BIND_HOST", raising=False)
    monkeypatch.setenv("PORT", "5077")
    assert external_link("/referrals/7") == "http://127.0.0.1:5077/referrals/7"


def test_e_mail_links_follow_public_base_url(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "5077")
    app.config["PUBLIC_BASE_URL"] = "https://intake.example.org/refuge/"
    assert external_link("/referrals/") == "https://intake.example.org/refuge/referrals/"
