"""Requests no honest browser sends get a clear 4xx, never a 500 (DESIGN §1.8)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.builders import make_org_key


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/referrals/99999999999999999999"),
        ("POST", "/referrals/99999999999999999999/transition"),
        ("POST", "/admin/users/99999999999999999999/deactivate"),
        ("POST", "/admin/keys/grants/99999999999999999999/revoke"),
        ("GET", "/cases/RF-X/attachments/99999999999999999999"),
    ],
)
def test_ids_larger_than_any_row_are_404_not_an_overflow(
    make_app: Callable[..., Flask], method: str, path: str
) -> None:
    app = make_app("sqlite", WTF_CSRF_ENABLED=False)
    assert app.test_client().open(path, method=method).status_code == 404


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_nul_bytes_are_refused_before_they_reach_the_database(
    make_app: Callable[..., Flask], backend: str
) -> None:
    app = make_app(backend, WTF_CSRF_ENABLED=False)
    client = app.test_client()
    response = client.post("/login", data={"email": "a\x00@example.org", "password": "x"})
    assert response.status_code == 400
    assert client.get("/directory/?q=a%00b").status_code == 400


def test_a_huge_organisation_key_id_is_a_clear_refusal(make_app: Callable[..., Flask]) -> None:
    app = make_app("sqlite", WTF_CSRF_ENABLED=False)
    with app.app_context():
        make_org_key()
    response = app.test_client().post(
        "/request",
        data={"org_key_id": "9" * 40, "sealed_answers": "AAAA"},
        headers={"Accept": "application/json"},
    )
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("path", ["/request", "/status"])
def test_public_forms_still_answer_when_the_rate_limit_store_is_down(
    make_app: Callable[..., Flask], path: str
) -> None:
    app = make_app("sqlite", RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    with app.app_context():
        make_org_key()
    client = app.test_client()
    assert client.get(path).status_code == 200
    assert client.post(path, data={}).status_code < 500
