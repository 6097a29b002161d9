"""A public key swapped in the database is not used: the pin is kept under a key outside it."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import OrgKey, OrgSetting
from intake.services import key_pins
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import csrf_token, full_answers, routing_form


def _swap_key_in_the_database(org_key: OrgKey) -> str:
    """What an insider with write access would do: another key, its own fingerprint."""
    public, _secret = crypto.generate_keypair()
    db.session.execute(
        sa.update(OrgKey)
        .where(OrgKey.id == org_key.id)
        .values(public_key=public, fingerprint=crypto.fingerprint(public))
    )
    db.session.commit()
    db.session.expire_all()
    return crypto.fingerprint(public)


def test_a_pinned_key_is_served_as_before(app: Flask, client: Any) -> None:
    org = make_org_key()
    assert client.get("/request").status_code == 200
    assert client.get("/request/key").get_json()["public_key"] == org.key.public_key
    landing = client.get("/").text
    assert org.key.fingerprint in landing
    assert "data-org-key-unverified" not in landing


def test_a_swapped_key_is_refused_everywhere_and_nothing_is_sealed(
    app: Flask, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    org = make_org_key()
    token = csrf_token(client)
    swapped_fingerprint = _swap_key_in_the_database(org.key)

    page = client.get("/request")
    assert page.status_code == 503
    assert "could not be verified" in page.text
    assert client.get("/request/key").status_code == 503
    landing = client.get("/").text
    assert "data-org-key-unverified" in landing
    assert swapped_fingerprint not in landing

    data = {"csrf_token": token, **full_answers(), **routing_form()}
    data["attachments"] = [(io.BytesIO(b"evidence"), "a.txt", "text/plain")]
    response = client.post("/request", data=data, content_type="multipart/form-data")
    assert response.status_code == 503
    db.session.rollback()
    assert table_count("cases") == 0
    assert table_count("case_attachments") == 0
    # Logged once, by id only.
    client.get("/request")
    mismatches = [r for r in caplog.records if "does not match its pin" in r.getMessage()]
    assert len(mismatches) == 1
    assert full_answers()["what_happened"] not in caplog.text


def test_deleting_the_pin_does_not_help(app: Flask, client: Any) -> None:
    make_org_key()
    db.session.execute(sa.delete(OrgSetting))
    db.session.commit()
    assert client.get("/request").status_code == 503


def test_the_refusal_is_in_the_visitors_language(app: Flask, client: Any) -> None:
    org = make_org_key()
    _swap_key_in_the_database(org.key)
    assert "無法驗證" in client.get("/request?lang=zh_Hant").text
    assert "无法验证" in client.get("/request?lang=zh_Hans").text
    assert "无法验证" in client.get("/?lang=zh_Hans").text


def test_keys_pin_needs_the_fingerprint_checked_out_of_band(app: Flask) -> None:
    org = make_org_key()
    db.session.execute(sa.delete(OrgSetting))  # a key from before pinning existed
    db.session.commit()
    runner = app.test_cli_runner()
    listing = json.loads(runner.invoke(args=["keys", "pin"]).output)
    assert listing == [
        {"org_key_id": org.key.id, "fingerprint": org.key.fingerprint, "pinned": False}
    ]
    wrong = runner.invoke(args=["keys", "pin", "--fingerprint", "00 11 22"])
    assert wrong.exit_code != 0
    done = runner.invoke(args=["keys", "pin", "--fingerprint", org.key.fingerprint])
    assert done.exit_code == 0, done.output
    db.session.expire_all()
    assert key_pins.is_verified(db.session.get_one(OrgKey, org.key.id))


def test_a_key_swapped_after_it_was_served_is_refused_on_the_next_request(
    app: Flask, client: Any
) -> None:
    org = make_org_key()
    assert client.get("/request/key").status_code == 200  # its pin check is cached now
    public, _secret = crypto.generate_keypair()
    # Behind the session's back: it may still hold the key as it was served.
    with db.engine.begin() as connection:
        connection.execute(
            sa.update(OrgKey)
            .where(OrgKey.id == org.key.id)
            .values(public_key=public, fingerprint=crypto.fingerprint(public))
        )
    assert client.get("/request/key").status_code == 503
    assert client.get("/request").status_code == 503
