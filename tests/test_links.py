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
        # This machine is "localhost": browsers refuse passkeys at an IP address.
        ({}, "http://localhost:5000"),
        ({"PORT": "5001"}, "http://localhost:5001"),
        ({"BIND_HOST": "0.0.0.0", "PORT": "8080"}, "http://localhost:8080"),  # noqa: S104
        ({"BIND_HOST": "10.1.2.3"}, "http://10.1.2.3:5000"),
        ({"BIND_HOST": "::1", "PORT": "5002"}, "http://[::1]:5002"),
        ({"BIND_HOST": "::", "PORT": "5002"}, "http://localhost:5002"),
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
    assert external_link("/referrals/7") == "http://localhost:5077/referrals/7"


def test_a_command_in_another_shell_links_to_the_port_the_instance_serves(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` on PORT=5077 hands its processes the address; an operator's `flask users
    reset-totp` in another shell has no PORT, and printed links to port 5000 (another
    instance, or nothing). The web process records where it serves in its instance folder."""
    from pathlib import Path

    from config import gunicorn

    app.config["PUBLIC_BASE_URL"] = None
    instance = Path(app.instance_path)
    monkeypatch.setenv("PORT", "5077")
    monkeypatch.delenv("BIND_HOST", raising=False)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setattr(gunicorn, "INSTANCE", instance)
    gunicorn.when_ready(None)  # as gunicorn calls it once the web process listens
    monkeypatch.delenv("PORT")  # the operator's shell
    assert external_link("/auth/enrol/x") == "http://localhost:5077/auth/enrol/x"
    # PUBLIC_BASE_URL, when the instance has one, is what it records.
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://intake.example.org")
    gunicorn.when_ready(None)
    assert external_link("/setup") == "https://intake.example.org/setup"
    # Garbage in the file is not a link.
    (instance / "served-address").write_text("javascript:alert(1)")
    assert external_link("/setup") == "http://localhost:5000/setup"


def test_e_mail_links_follow_public_base_url(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "5077")
    app.config["PUBLIC_BASE_URL"] = "https://intake.example.org/refuge/"
    assert external_link("/referrals/") == "https://intake.example.org/refuge/referrals/"
