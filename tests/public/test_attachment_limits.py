"""The form promises ATTACHMENT_MAX_COUNT files of ATTACHMENT_MAX_BYTES each: a request holding
exactly that, with the longest answers, is accepted on both paths and on a follow-up, however the
files travel (sealed and padded from the browser, as raw binary parts or, from a page loaded
before those, in base64; as they are without JavaScript). MAX_CONTENT_LENGTH is derived from
those settings (config.settings.request_max_bytes), also when an operator sets them in the
environment or a caller gives them to create_app; only more than the promise meets it, and is
told what to change."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from config.settings import base64_length, field_max_bytes, request_max_bytes
from intake import crypto
from intake.extensions import db
from intake.models import CaseAttachment, Urgency
from intake.public.forms import IntakeForm, answer_limit
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import table_count
from tests.public.conftest import (
    CHOICE_ANSWERS,
    WIRES,
    csrf_token,
    routing_form,
    sealed_part,
)
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
    """What submitter.js seals for a file: the envelope padded to its bucket, sealed."""
    plain = submissions.PlainFile(name=LONG_NAME, content_type="image/jpeg", data=data)
    envelope = crypto.pad_file(submissions.file_envelope(plain))
    return crypto.seal(envelope, org.public)


def _browser_post(app: Flask, org: OrgKeyPair, files: list[bytes], wire: str = "raw") -> Any:
    parts = [sealed_part(sealed, wire) for sealed in files]
    return browser_post(app, org, list(parts), _longest_answers())


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


@pytest.mark.parametrize("wire", WIRES)
def test_five_sealed_files_of_the_maximum_size_are_accepted_from_the_browser(
    promised: Any, wire: str
) -> None:
    app, org = promised
    count, size = app.config["ATTACHMENT_MAX_COUNT"], app.config["ATTACHMENT_MAX_BYTES"]
    sealed = [_sealed_like_the_browser(org, _max_file(index, size)) for index in range(count)]
    response = _browser_post(app, org, sealed, wire)
    assert response.status_code == 201, response.json
    if wire == "raw":
        # 5 × 11 MiB of ciphertext as it is, the sealed answers and the parts' headers.
        assert 55 * MIB < _request_bytes(response) < 56 * MIB
    else:
        # A page loaded before: the same ciphertext in base64, a third more (over 70 MiB).
        assert _request_bytes(response) > 70 * MIB
    assert _request_bytes(response) <= app.config["MAX_CONTENT_LENGTH"]
    stored = _stored()
    assert [attachment.sealed_content for attachment in stored] == sealed
    assert open_file(stored[0].sealed_content, org.secret).data == _max_file(0, size)


@pytest.mark.parametrize("wire", WIRES)
def test_a_follow_up_takes_five_sealed_files_of_the_maximum_size(promised: Any, wire: str) -> None:
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
            "attachments": [sealed_part(f, wire) for f in sealed],
        },
        headers={"Accept": "application/json", "X-CSRFToken": key["csrf_token"]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    assert [attachment.sealed_content for attachment in _stored()] == sealed


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
        for wire in WIRES:
            assert _browser_post(app, org, sealed, wire).status_code == 201
        files = [_max_file(index, MIB) for index in range(7)]
        assert _no_js_post(app, files).status_code == 303
        assert len(_stored()) == 21


def test_limits_given_to_create_app_give_a_request_limit_that_holds_them(make_app: Any) -> None:
    """As from the environment: the overrides are in before the limit is derived."""
    app = make_app("sqlite", ATTACHMENT_MAX_BYTES=MIB, ATTACHMENT_MAX_COUNT=7)
    expected = request_max_bytes(7, MIB, app.config["SEALED_ANSWERS_MAX_BYTES"])
    assert app.config["MAX_CONTENT_LENGTH"] == expected
    with app.app_context():
        org = make_org_key()
        sealed = [_sealed_like_the_browser(org, _max_file(index, MIB)) for index in range(7)]
        assert _browser_post(app, org, sealed, "base64").status_code == 201
        too_many = [*sealed, *sealed]  # 14 files: over the derived limit, said as such
        assert _browser_post(app, org, too_many, "base64").status_code == 413


def test_a_request_limit_given_to_create_app_is_kept(make_app: Any) -> None:
    app = make_app("sqlite", ATTACHMENT_MAX_COUNT=7, MAX_CONTENT_LENGTH=123_456)
    assert app.config["MAX_CONTENT_LENGTH"] == 123_456
    # The other one is still derived: a text field's room, not the files'.
    assert app.config["MAX_FORM_MEMORY_SIZE"] == field_max_bytes(
        app.config["SEALED_ANSWERS_MAX_BYTES"]
    )


def test_the_request_limit_holds_the_promise_in_base64_while_older_pages_send_it() -> None:
    """Raw parts alone need only the ciphertext and the parts' headers; the limit keeps room
    for the same files in base64 (a page loaded before raw parts, open over a deploy), so no
    such page is refused what the form promised it."""
    raw = request_max_bytes(5, 10 * MIB, 320 * 1024, base64_files=False)
    older_pages = request_max_bytes(5, 10 * MIB, 320 * 1024)
    sealed_file = 11 * MIB + crypto.SEAL_OVERHEAD  # a 10 MiB file and its header: 11 MiB
    assert 5 * sealed_file < raw < 5 * sealed_file + MIB  # no base64 factor
    assert older_pages >= 5 * base64_length(sealed_file)  # the promise, in base64
    assert older_pages - raw > 18 * MIB


def test_the_raw_request_limit_holds_five_raw_files_of_the_maximum_size(make_app: Any) -> None:
    """The limit once older pages are gone (base64_files=False) is enough for the promise
    sent as raw parts; the same files in base64 are over it (why it is not in force yet)."""
    raw_limit = request_max_bytes(5, 10 * MIB, 320 * 1024, base64_files=False)
    app = make_app("sqlite", MAX_CONTENT_LENGTH=raw_limit)
    with app.app_context():
        org = make_org_key()
        sealed = [_sealed_like_the_browser(org, _max_file(index, 10 * MIB)) for index in range(5)]
        assert _browser_post(app, org, sealed, "raw").status_code == 201
        over = _browser_post(app, org, sealed, "base64")
        assert over.status_code == 413
        assert over.json["field"] == "attachments"
        assert len(_stored()) == 5


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


@pytest.mark.parametrize("wire", WIRES)
def test_more_than_the_promise_from_the_browser_never_says_back(small: Any, wire: str) -> None:
    app, org = small
    sealed = [_sealed_like_the_browser(org, _max_file(index, MIB)) for index in range(8)]
    response = _browser_post(app, org, sealed, wire)
    assert response.status_code == 413
    assert response.json["field"] == "attachments"  # beside the file field
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
