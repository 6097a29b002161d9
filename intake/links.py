"""Absolute links for places with no request to take the host from: e-mails and the console."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from config.address import recorded_address, served_address


def base_url() -> str:
    """``PUBLIC_BASE_URL``; else the address this instance's web process recorded when it
    started (a command in another shell has no ``PORT``); else the address BIND_HOST and
    PORT give."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    recorded = recorded_address(Path(current_app.instance_path))
    return str(configured or recorded or served_address()).rstrip("/")


def external_link(path: str) -> str:
    return base_url() + path
