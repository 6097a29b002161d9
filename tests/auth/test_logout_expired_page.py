"""Signing out works even from a page whose CSRF token has expired."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from intake.models import Role
from tests.builders import sign_in


def test_sign_out_with_an_expired_token_still_ends_the_session(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app("sqlite", WTF_CSRF_ENABLED=True)
    with app.app_context():
        client = app.test_client()
        sign_in(client, Role.CASEWORKER)
        assert client.get("/cases/").status_code == 200
        cookie = client.get_cookie("refuge_session")
        assert cookie is not None
        before = app.test_client()
        before.set_cookie("refuge_session", cookie.value, domain=cookie.domain or "localhost")
        assert before.get("/cases/").status_code == 200  # the copy works while signed in
        response = client.post("/logout", data={"csrf_token": "expired-or-missing"})
        assert response.status_code == 400
        assert "You are signed out" in response.get_data(as_text=True)
        assert client.get("/cases/").status_code == 302
        # A copy of the old cookie is dead too: the server-side session was revoked.
        replay = app.test_client()
        replay.set_cookie("refuge_session", cookie.value, domain=cookie.domain or "localhost")
        assert replay.get("/cases/").status_code == 302
