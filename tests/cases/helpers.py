"""Signing staff in for the case tests, in step with what intake.auth leaves in a session."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from intake.models import Role, User
from tests.builders import login_as, make_user


def sign_in(client: FlaskClient, app: Flask, user: User) -> User:
    login_as(client, app, user)
    # The idle/absolute time-outs of intake.auth.sessions read these; login_as may predate them.
    with client.session_transaction() as session:
        now = int(time.time())
        session.setdefault("login_at", now)
        session.setdefault("seen_at", now)
    return user


def signed_in(client: FlaskClient, app: Flask, role: Role) -> Any:
    return sign_in(client, app, make_user(role))
