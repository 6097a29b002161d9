"""Absolute links for places with no request to take the host from: e-mails and the console."""

from __future__ import annotations

from flask import current_app

from config.address import served_address


def base_url() -> str:
    """``PUBLIC_BASE_URL``, else the address this instance really serves (BIND_HOST, PORT)."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    return str(configured or served_address()).rstrip("/")


def external_link(path: str) -> str:
    return base_url() + path
