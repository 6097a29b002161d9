"""Shared addresses: a browser whose per-address budget is spent may still send after a proof
of work; wrong, reused, expired and over-the-ceiling proofs are refused and nothing is stored."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import OrgKey
from intake.services import proof_of_work
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import table_count
from tests.public.test_request_hostile import _browser_form

BITS = 8  # fast in Python; production sizes it for WebCrypto on a phone (POW_DIFFICULTY_BITS)


def _app(make_app: Any, **extra: Any) -> Flask:
    settings = {"REQUEST_RATE_LIMIT": "1 per hour", "POW_DIFFICULTY_BITS": BITS,
                "POW_GLOBAL_LIMIT": "2 per hour", **extra}  # fmt: skip
    return make_app("sqlite", **settings)


@pytest.fixture
def shared(make_app: Any) -> Iterator[tuple[Flask, OrgKeyPair]]:
    app = _app(make_app)
    with app.app_context():
        yield app, make_org_key()


def _key(client: FlaskClient) -> dict[str, Any]:
    answer = client.get("/request/key").get_json()
    assert answer["pow"]["bits"] == BITS
    return answer


def _send(client: FlaskClient, org: OrgKeyPair, **proof: str) -> Any:
    key = _key(client)
    form = _browser_form(org, key["csrf_token"], **proof)
    return client.post("/request", data=form, content_type="multipart/form-data",
                       headers={"Accept": "application/json"})  # fmt: skip


def _solved(client: FlaskClient) -> dict[str, str]:
    challenge = _key(client)["pow"]["challenge"]
    return {"pow_challenge": challenge, "pow_nonce": proof_of_work.solve(challenge, BITS)}


def _zero_bits(proof: dict[str, str]) -> int:
    text = f"{proof['pow_challenge']}:{proof['pow_nonce']}"
    return proof_of_work.leading_zero_bits(hashlib.blake2b(text.encode(), digest_size=32).digest())


def _spend_the_address_budget(client: FlaskClient, org: OrgKeyPair) -> None:
    assert _send(client, org).status_code == 201
    assert _send(client, org).status_code == 429
    assert table_count("cases") == 1


def test_a_proof_of_work_lets_a_browser_past_a_spent_address_budget(
    shared: tuple[Flask, OrgKeyPair],
) -> None:
    app, org = shared
    client = app.test_client()
    _spend_the_address_budget(client, org)
    response = _send(client, org, **_solved(client))
    assert response.status_code == 201, response.get_json()
    assert "receipt_code" in response.get_json()
    assert table_count("cases") == 2


def test_a_wrong_nonce_is_refused(shared: tuple[Flask, OrgKeyPair]) -> None:
    app, org = shared
    client = app.test_client()
    _spend_the_address_budget(client, org)
    proof = _solved(client)
    proof["pow_nonce"] = str(int(proof["pow_nonce"]) + 1)
    # (the next nonce could work by chance: 1 in 2**BITS; walk to one that does not)
    while _zero_bits(proof) >= BITS:
        proof["pow_nonce"] = str(int(proof["pow_nonce"]) + 1)
    assert _send(client, org, **proof).status_code == 429
    assert table_count("cases") == 1


def test_a_challenge_is_accepted_once(shared: tuple[Flask, OrgKeyPair]) -> None:
    app, org = shared
    client = app.test_client()
    _spend_the_address_budget(client, org)
    proof = _solved(client)
    assert _send(client, org, **proof).status_code == 201
    assert _send(client, org, **proof).status_code == 429
    assert table_count("cases") == 2


def test_an_expired_challenge_is_refused(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(make_app, POW_TTL_SECONDS=60)
    with app.app_context():
        org = make_org_key()
        client = app.test_client()
        _spend_the_address_budget(client, org)
        proof = _solved(client)
        later = time.time() + 61
        monkeypatch.setattr(proof_of_work.time, "time", lambda: later)
        assert _send(client, org, **proof).status_code == 429
        assert table_count("cases") == 1


@pytest.mark.parametrize(
    "proof",
    [
        {"pow_challenge": "forged.signature", "pow_nonce": "1"},
        {"pow_challenge": "x" * 5000, "pow_nonce": "1"},
        {"pow_challenge": "", "pow_nonce": "1"},
        {"pow_nonce": "12"},
        {"pow_challenge": "a.b", "pow_nonce": "-1"},
        {"pow_challenge": "a.b", "pow_nonce": "１２"},  # full-width digits
        {"pow_challenge": "a.b", "pow_nonce": "9" * 100},
    ],
)
def test_malformed_proofs_are_refused_with_a_clear_4xx(
    shared: tuple[Flask, OrgKeyPair], proof: dict[str, str]
) -> None:
    app, org = shared
    client = app.test_client()
    # Within the budget too: a proof that is sent must be valid.
    response = _send(client, org, **proof)
    assert response.status_code == 400
    assert "error" in response.get_json()
    assert table_count("cases") == 0


def test_a_valid_proof_within_the_budget_is_spent_and_the_request_accepted(
    shared: tuple[Flask, OrgKeyPair],
) -> None:
    app, org = shared
    client = app.test_client()
    proof = _solved(client)
    assert _send(client, org, **proof).status_code == 201
    assert _send(client, org, **proof).status_code == 400  # reused, budget not yet spent
    assert table_count("cases") == 1


def test_the_global_ceiling_still_protects_the_server(shared: tuple[Flask, OrgKeyPair]) -> None:
    app, org = shared
    client = app.test_client()
    _spend_the_address_budget(client, org)
    assert _send(client, org, **_solved(client)).status_code == 201
    assert _send(client, org, **_solved(client)).status_code == 201
    response = _send(client, org, **_solved(client))
    assert response.status_code == 429
    assert table_count("cases") == 3


@pytest.mark.redis
def test_spent_challenges_are_remembered_in_redis_across_processes(
    make_app: Any, redis_url: str
) -> None:
    first = _app(make_app, RATELIMIT_STORAGE_URI=redis_url)
    second = _app(make_app, RATELIMIT_STORAGE_URI=redis_url)
    with first.app_context():
        org = make_org_key()
        client = first.test_client()
        _spend_the_address_budget(client, org)
        proof = _solved(client)
        assert _send(client, org, **proof).status_code == 201
        key_id, secret = org.key.id, org.secret
    with second.app_context():
        key = db.session.get(OrgKey, key_id)
        assert key is not None
        same = OrgKeyPair(key=key, secret=secret)
        # Another web process, sharing Redis: the budget is spent there too, and the spent
        # challenge does not lift it.
        assert _send(second.test_client(), same, **proof).status_code == 429
        assert table_count("cases") == 2
