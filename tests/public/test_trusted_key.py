"""On PostgreSQL a submission does not read the organisation key first: the process remembers
the key it verified last (``submissions.TrustedKey``) and the insert stores the case only if
the database still holds that key, pinned, current, with the same directory version. Whatever
changed in between, the submission is answered as if the key had been read with it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, DirectoryEntry, OrgKey
from intake.services import directory, submissions
from intake.services.audit import verify_chain
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import table_count
from tests.public.conftest import full_answers, routing_form

pytestmark = pytest.mark.postgres


@pytest.fixture
def public(make_app: Any) -> Iterator[tuple[FlaskClient, OrgKeyPair]]:
    """A client with a CSRF token in its session (``client.token``), asked for before any
    test changes the key: /request/key refuses a key that does not verify."""
    app: Flask = make_app("postgres", REQUEST_RATE_LIMIT="1000 per hour")
    with app.app_context():
        directory.import_shipped()
        org = make_org_key()
        client = app.test_client()
        _TOKENS[client] = client.get("/request/key").get_json()["csrf_token"]
        yield client, org
        del _TOKENS[client]
        assert verify_chain().ok


_TOKENS: dict[FlaskClient, str] = {}


def _browser(client: FlaskClient, org: OrgKeyPair) -> Any:
    return client.post(
        "/request",
        data={
            "csrf_token": _TOKENS[client],
            "sealed_answers": crypto.seal_answers(full_answers(), org.public),
            "org_key_id": org.key.id,
            "consent_given": "1",
            **routing_form(),
        },
    )


def _no_js(client: FlaskClient) -> Any:
    return client.post(
        "/request", data={"csrf_token": _TOKENS[client], **full_answers(), **routing_form()}
    )


def _newest_case() -> Case:
    db.session.expire_all()
    case = db.session.scalars(sa.select(Case).order_by(Case.id.desc()).limit(1)).one()
    return case


def _remembered() -> submissions.TrustedKey | None:
    return submissions.trusted_sealing_key()


def test_the_key_verified_once_is_remembered_and_used(
    public: tuple[FlaskClient, OrgKeyPair],
) -> None:
    client, org = public
    assert _browser(client, org).status_code == 201
    remembered = _remembered()
    assert remembered is not None
    assert (remembered.id, remembered.public_key) == (org.key.id, org.key.public_key)
    assert _browser(client, org).status_code == 201
    assert _no_js(client).status_code == 303
    assert table_count("cases") == 3


def test_a_key_swapped_in_the_database_is_refused_at_the_next_submission(
    public: tuple[FlaskClient, OrgKeyPair],
) -> None:
    client, org = public
    assert _browser(client, org).status_code == 201
    assert _remembered() is not None
    public_key, _secret = crypto.generate_keypair()
    with db.engine.begin() as connection:  # behind the app's back, as an insider would
        connection.execute(
            sa.update(OrgKey)
            .where(OrgKey.id == org.key.id)
            .values(public_key=public_key, fingerprint=crypto.fingerprint(public_key))
        )
    assert _no_js(client).status_code == 503
    assert _browser(client, org).status_code == 503
    assert table_count("cases") == 1


def test_a_new_key_is_used_from_the_next_submission(
    public: tuple[FlaskClient, OrgKeyPair],
) -> None:
    client, old = public
    assert _no_js(client).status_code == 303
    new = make_org_key()  # a rotation: the newest key not retired is the current one
    assert _no_js(client).status_code == 303
    case = _newest_case()
    assert case.org_key_id == new.key.id
    answers = crypto.open_answers(case.sealed_answers, new.secret)
    assert answers["what_happened"] == full_answers()["what_happened"]
    remembered = _remembered()
    assert remembered is not None
    assert remembered.id == new.key.id
    # A browser that sealed to the older key, still not retired, is accepted as before.
    assert _browser(client, old).status_code == 201
    assert _newest_case().org_key_id == old.key.id


def test_a_retired_key_is_refused(public: tuple[FlaskClient, OrgKeyPair]) -> None:
    client, old = public
    assert _browser(client, old).status_code == 201
    new = make_org_key()
    db.session.execute(
        sa.update(OrgKey).where(OrgKey.id == old.key.id).values(retired_at=sa.func.now())
    )
    db.session.commit()
    response = _browser(client, old)
    assert response.status_code == 400
    assert "is not in use" in response.text
    assert table_count("cases") == 1
    assert _browser(client, new).status_code == 201


def test_triage_ranks_against_the_directory_as_it_is_now(
    public: tuple[FlaskClient, OrgKeyPair],
) -> None:
    client, org = public
    assert _browser(client, org).status_code == 201
    first = _newest_case().triage[0]["id"]
    entry = db.session.get_one(DirectoryEntry, first)
    entry.retired_at = utcnow()  # an admin's edit: the directory's version moves with it
    db.session.commit()
    assert _browser(client, org).status_code == 201
    assert first not in {row["id"] for row in _newest_case().triage}
