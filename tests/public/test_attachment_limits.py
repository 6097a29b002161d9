"""The form promises ATTACHMENT_MAX_COUNT files of ATTACHMENT_MAX_BYTES each: a request holding
exactly that, with the longest answers, is accepted on both paths and on a follow-up, however the
files travel (sealed, padded and in base64 from the browser; as they are without JavaScript).
MAX_CONTENT_LENGTH is derived from those settings (config.settings.request_max_bytes), also
when an operator sets them in the environment; only more than the promise meets it, and is told
what to change."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from config.settings import request_max_bytes
from intake import crypto
from intake.extensions import db
from intake.models import CaseAttachment, Urgency
from intake.public.forms import IntakeForm, answer_limit
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import table_count
from tests.public.conftest import CHOICE_ANSWERS, csrf_token, routing_form
from tests.public.test_attachment_padding import _browser_post as browser_post
from tests.sealed import open_file

MIB = 1024 * 1024
# The browser puts the file's name in the sealed header: a long one, in a script of three
# bytes a character, makes the largest header a person is likely to send.
LONG_NAME = "證據" * 60 + ".jpg"


def _longest_answers() -> dict[str, str]:
    """Every free-text answer at its most characters (three bytes each in UTF-8)."""
    answers = dict(CHOICE_ANSWERS)
    for field in IntakeForm(meta={"csrf": False}):
        limit = answer_limit(field)
        if limit:
            answers[field.name] = "金" * limit
    return answers


def _max_file(index: int, size: int) -> bytes:
    return bytes([index]) * size


def _sealed_like_the_browser(org: OrgKeyPair, data: bytes) -> bytes:
    """What submitter.js posts for a file: the envelope padded to its bucket, sealed, base64."""
    plain = submissions.PlainFile(name=LONG_NAME, content_type="image/jpeg", data=data)
    envelope = crypto.pad_file(submissions.file_envelope(plain))
    return crypto.b64(crypto.seal(envelope, org.public)).encode()


def _browser_post(app: Flask, org: OrgKeyPair, files: list[bytes]) -> Any:
    return browser_post(app, org, files, _longest_answers())


def _no_js_post(app: Flask, files: list[bytes]) -> Any:
    client = app.test_client()
    data: dict[str, Any] = {
        "csrf_token": csrf_token(client),
        **_longest_answers(),
        **routing_form(),
        "attachments": [(io.BytesIO(f), LONG_NAME, "image/jpeg") for f in files],
    }
    return client.post("/request", data=data, content_type="multipart/form-data")


def _request_bytes(response: Any) -> int:
    return int(response.request.environ["CONTENT_LENGTH"])


def _stored() -> list[CaseAttachment]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(CaseAttachment).order_by(CaseAttachment.id)))


def _nothing_stored() -> None:
    db.session.rollback()
    assert table_count("cases") == 0
    assert table_count("case_attachments") == 0


@pytest.fixture
def promised(make_app: Any) -> Any:
    """An app with the shipped limits: 5 files of 10 MiB."""
    app = make_app("sqlite")
    with app.app_context():
        yield app, make_org_key()


def test_five_files_of_the_maximum_size_are_accepted_without_javascript(promised: Any) -> None:
    app, org = promised
    count, size = app.config["ATTACHMENT_MAX_COUNT"], app.config["ATTACHMENT_MAX_BYTES"]
    files = [_max_file(index, size) for index in range(count)]
    response = _no_js_post(app, files)
    assert response.status_code == 303, response.text[:2000]
    assert _request_bytes(response) <= app.config["MAX_CONTENT_LENGTH"]
    stored = _stored()
    assert len(stored) == count == 5
    assert open_file(stored[-1].sealed_content, org.secret).data == files[-1]


def test_five_sealed_files_of_the_maximum_size_are_accepted_from_the_browser(
    promised: Any,
) -> None:
    app, org = promised
    count, size = app.config["ATTACHMENT_MAX_COUNT"], app.config["ATTACHMENT_MAX_BYTES"]
    sealed = [_sealed_like_the_browser(org, _max_file(index, size)) for index in range(count)]
    response = _browser_post(app, org, sealed)
    assert response.status_code == 201, response.json
    # 5 × 11 MiB of ciphertext in base64 and the sealed answers: over 70 MiB on the wire.
    assert 70 * MIB < _request_bytes(response) <= app.config["MAX_CONTENT_LENGTH"]
    stored = _stored()
    assert len(stored) == 5
    assert open_file(stored[0].sealed_content, org.secret).data == _max_file(0, size)


def test_a_follow_up_takes_five_sealed_files_of_the_maximum_size(promised: Any) -> None:
    app, org = promised
    size = app.config["ATTACHMENT_MAX_BYTES"]
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS),
        org_key=org.key,
        answers={"what_happened": "x"},
        files=[],
        locale="en",
    )
    client = app.test_client()
    key = client.get("/request/key").json
    assert key is not None
    sealed = [_sealed_like_the_browser(org, _max_file(index, size)) for index in range(5)]
    response = client.post(
        "/status/follow-up",
        data={
            "code": submission.receipt_code,
            "org_key_id": str(org.key.id),
            "sealed_body": crypto.seal_answers({"body": "金" * 8000}, org.public),
            "submission_token": crypto.new_submission_token(),
            "attachments": [
                (io.BytesIO(f), "sealed.bin", "application/octet-stream") for f in sealed
            ],
        },
        headers={"Accept": "application/json", "X-CSRFToken": key["csrf_token"]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    assert len(_stored()) == 5


def test_limits_set_in_the_environment_give_a_request_limit_that_holds_them(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTACHMENT_MAX_BYTES", str(MIB))
    monkeypatch.setenv("ATTACHMENT_MAX_COUNT", "7")
    app = make_app("sqlite")
    assert app.config["ATTACHMENT_MAX_BYTES"] == MIB
    assert app.config["ATTACHMENT_MAX_COUNT"] == 7
    assert app.config["MAX_CONTENT_LENGTH"] == request_max_bytes(
        7, MIB, app.config["SEALED_ANSWERS_MAX_BYTES"]
    )
    assert app.config["MAX_CONTENT_LENGTH"] < 20 * MIB  # follows them down as well as up
    with app.app_context():
        org = make_org_key()
        sealed = [_sealed_like_the_browser(org, _max_file(index, MIB)) for index in range(7)]
        assert _browser_post(app, org, sealed).status_code == 201
        files = [_max_file(index, MIB) for index in range(7)]
        assert _no_js_post(app, files).status_code == 303
        assert len(_stored()) == 14


@pytest.fixture
def small(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ATTACHMENT_MAX_BYTES", str(MIB))
    app = make_app("sqlite")
    with app.app_context():
        yield app, make_org_key()


def test_more_than_the_promise_without_javascript_says_how_much_and_what_to_change(
    small: Any,
) -> None:
    app, _org = small
    files = [_max_file(index, MIB) for index in range(20)]  # 20 MiB: over the derived limit
    response = _no_js_post(app, files)
    assert response.status_code == 413
    assert "What you sent comes to about 21 MB." in response.text
    assert "At most 5 files of 1 MB each can be sent at once." in response.text
    assert "Leave out a file or two" in response.text
    assert "Back button" in response.text
    _nothing_stored()


def test_more_than_the_promise_from_the_browser_never_says_back(small: Any) -> None:
    app, org = small
    sealed = [_sealed_like_the_browser(org, _max_file(index, MIB)) for index in range(8)]
    response = _browser_post(app, org, sealed)
    assert response.status_code == 413
    error = response.json["error"]
    assert "At most 5 files of 1 MB each" in error
    assert "Leave out a file or two and send again" in error
    assert "Back" not in error
    _nothing_stored()


def test_the_over_the_limit_message_is_translated(small: Any) -> None:
    app, _org = small
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/request?lang=es",
        data={
            "csrf_token": token,
            **routing_form(),
            "attachments": [(io.BytesIO(b"x" * MIB), "a.jpg", "image/jpeg") for _ in range(20)],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "Como máximo se pueden enviar 5 archivos de 1 MB" in response.text
    _nothing_stored()
