"""Evidence files are padded to size buckets before sealing, on both paths, and the server refuses
sealed files that are not: a stored size (ciphertext or the clear ``size`` column) says which
bucket a file fell in, never its exact size."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import CaseAttachment, Urgency
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import table_count
from tests.public.conftest import (
    WIRES,
    SealedPart,
    csrf_token,
    full_answers,
    routing_form,
    sealed_part,
)
from tests.sealed import open_file

KIB = 1024
MIB = 1024 * 1024


@pytest.fixture
def org(roomy_app: Flask) -> OrgKeyPair:
    return make_org_key()


def _sealed(org: OrgKeyPair, data: bytes, *, padded: bool = True) -> bytes:
    """A file as the browser seals it: the raw ciphertext of its (padded) envelope."""
    plain = submissions.PlainFile(name="a.jpg", content_type="image/jpeg", data=data)
    envelope = submissions.file_envelope(plain)
    if padded:
        envelope = crypto.pad_file(envelope)
    return crypto.seal(envelope, org.public)


def _browser_post(
    app: Flask,
    org: OrgKeyPair,
    files: list[bytes | SealedPart],
    answers: dict[str, Any] | None = None,
) -> Any:
    """A post as submitter.js sends it: sealed answers (``full_answers`` unless given) and the
    sealed ``files``, each request with its own submission token. A file given as bytes is
    base64 text, posted as a page loaded before raw parts posts it; a part goes as it is."""
    client = app.test_client()
    key = client.get("/request/key").json
    assert key is not None
    data: dict[str, Any] = {
        "sealed_answers": crypto.seal_answers(answers or full_answers(), org.public),
        "org_key_id": str(org.key.id),
        "urgency": "days",
        "threats": ["detention"],
        "consent_given": "1",
        "submission_token": crypto.new_submission_token(),
        "attachments": [
            f if isinstance(f, tuple) else (io.BytesIO(f), "sealed.bin", "application/octet-stream")
            for f in files
        ],
    }
    return client.post(
        "/request",
        data=data,
        content_type="multipart/form-data",
        headers={"Accept": "application/json", "X-CSRFToken": key["csrf_token"]},
    )


def _no_js_post(app: Flask, files: list[tuple[bytes, str]]) -> Any:
    client = app.test_client()
    data: dict[str, Any] = {"csrf_token": csrf_token(client), **full_answers(), **routing_form()}
    data["attachments"] = [(io.BytesIO(d), name, "image/jpeg") for d, name in files]
    return client.post("/request", data=data, content_type="multipart/form-data")


def _stored() -> list[CaseAttachment]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(CaseAttachment).order_by(CaseAttachment.id)))


def _nothing_stored() -> None:
    db.session.rollback()
    assert table_count("cases") == 0
    assert table_count("case_attachments") == 0
    assert table_count("audit_events") == 0


@pytest.mark.parametrize(
    ("envelope", "bucket"),
    [
        (0, 4 * KIB),
        (4 * KIB - 1, 4 * KIB),
        (4 * KIB, 8 * KIB),  # the 0x80 byte needs room: a full bucket moves up
        (100 * KIB, 128 * KIB),
        (MIB - 1, MIB),
        (MIB, 2 * MIB),
        (5 * MIB + 3, 6 * MIB),
    ],
)
def test_buckets_are_powers_of_two_from_4_kib_then_whole_mib(envelope: int, bucket: int) -> None:
    assert crypto.file_bucket(envelope) == bucket
    assert crypto.is_file_bucket(bucket)
    assert len(crypto.pad_file(b"e" * envelope)) == bucket
    assert crypto.unpad(crypto.pad_file(b"e" * envelope), bucket) == b"e" * envelope


@pytest.mark.parametrize("size", [0, 1, 4095, 4097, 12 * KIB, MIB + 4 * KIB, 3 * MIB + 1])
def test_sizes_that_are_not_buckets_are_refused(size: int) -> None:
    assert not crypto.is_file_bucket(size)


@pytest.mark.parametrize("wire", WIRES)
def test_two_files_of_different_sizes_in_one_bucket_store_identical_sizes_from_the_browser(
    roomy_app: Flask, org: OrgKeyPair, wire: str
) -> None:
    small, large = b"s" * 10, b"L" * 3000
    sent = [_sealed(org, small), _sealed(org, large)]
    response = _browser_post(roomy_app, org, [sealed_part(c, wire) for c in sent])
    assert response.status_code == 201, response.json
    first, second = _stored()
    # The ciphertext is stored exactly as sealed, whichever way it travelled.
    assert [first.sealed_content, second.sealed_content] == sent
    assert first.size == second.size == 4 * KIB
    assert len(first.sealed_content) == len(second.sealed_content) == 4 * KIB + 48
    assert open_file(first.sealed_content, org.secret).data == small
    assert open_file(second.sealed_content, org.secret).data == large


def test_the_no_js_path_pads_too(roomy_app: Flask, org: OrgKeyPair) -> None:
    small, large = b"s" * 200, b"L" * 5000
    response = _no_js_post(roomy_app, [(small, "small.jpg"), (large, "large.jpg")])
    assert response.status_code == 303, response.text  # to the receipt, shown once
    first, second = _stored()
    assert first.size == 4 * KIB
    assert second.size == 8 * KIB
    assert len(first.sealed_content) == 4 * KIB + 48
    opened = [open_file(a.sealed_content, org.secret) for a in (first, second)]
    assert [(f.name, f.data) for f in opened] == [("small.jpg", small), ("large.jpg", large)]


@pytest.mark.parametrize("wire", WIRES)
def test_unpadded_sealed_files_are_refused_and_nothing_is_stored(
    roomy_app: Flask, org: OrgKeyPair, wire: str
) -> None:
    unpadded = _sealed(org, b"photo bytes", padded=False)
    response = _browser_post(roomy_app, org, [sealed_part(unpadded, wire)])
    assert response.status_code == 400, response.json
    assert "Sealed file 1 has the wrong length" in response.json["error"]
    assert response.json["field"] == "attachments"  # said beside the file field
    _nothing_stored()


@pytest.mark.parametrize("wire", WIRES)
def test_a_bucket_plus_a_byte_is_refused(roomy_app: Flask, org: OrgKeyPair, wire: str) -> None:
    envelope = crypto.pad_file(b'{"name": "a", "type": "", "size": 1}\na') + b"\x00"
    sealed = crypto.seal(envelope, org.public)
    response = _browser_post(roomy_app, org, [sealed_part(sealed, wire)])
    assert response.status_code == 400
    assert "Sealed file 1 has the wrong length" in response.json["error"]
    _nothing_stored()


def test_the_service_refuses_unpadded_files_whoever_calls_it(org: OrgKeyPair) -> None:
    unpadded = _sealed(org, b"x", padded=False)
    with pytest.raises(submissions.SubmissionRefused):
        submissions.create_case(
            Routing(urgency=Urgency.DAYS),
            org_key=org.key,
            sealed_answers=crypto.seal_answers(full_answers(), org.public),
            sealed_files=[unpadded],
            sealed_by=submissions.SealedBy.BROWSER,
            locale="en",
        )
    _nothing_stored()


@pytest.mark.parametrize("wire", WIRES)
def test_a_follow_up_with_an_unpadded_file_is_refused(
    roomy_app: Flask, org: OrgKeyPair, wire: str
) -> None:
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS), org_key=org.key, answers={}, files=[], locale="en"
    )
    client = roomy_app.test_client()
    key = client.get("/request/key").json
    assert key is not None
    before = table_count("audit_events")
    response = client.post(
        "/status/follow-up",
        data={
            "code": submission.receipt_code,
            "sealed_body": crypto.seal_answers({"body": "more"}, org.public),
            "org_key_id": str(org.key.id),
            "attachments": [sealed_part(_sealed(org, b"x", padded=False), wire)],
        },
        headers={"Accept": "application/json", "X-CSRFToken": key["csrf_token"]},
        content_type="multipart/form-data",
    )
    refusal = response.json
    assert response.status_code == 400, refusal
    assert refusal is not None
    assert "Sealed file 1 has the wrong length" in refusal["error"]
    assert refusal["field"] == "attachments"
    assert table_count("case_messages") == 0
    assert table_count("case_attachments") == 0
    assert table_count("audit_events") == before


def test_a_follow_up_whose_message_is_not_whole_blocks_is_refused(
    roomy_app: Flask, org: OrgKeyPair
) -> None:
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS), org_key=org.key, answers={}, files=[], locale="en"
    )
    client = roomy_app.test_client()
    key = client.get("/request/key").json
    assert key is not None
    unpadded = crypto.b64(crypto.seal(json.dumps({"body": "more"}).encode(), org.public))
    response = client.post(
        "/status/follow-up",
        data={
            "code": submission.receipt_code,
            "sealed_body": unpadded,
            "org_key_id": str(org.key.id),
        },
        headers={"Accept": "application/json", "X-CSRFToken": key["csrf_token"]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert table_count("case_messages") == 0


@pytest.mark.parametrize("path", ["browser raw", "browser base64", "no-js"])
def test_a_file_of_exactly_the_maximum_size_gets_through(make_app: Any, path: str) -> None:
    # 1 MiB plus its header falls in the 2 MiB bucket: the ciphertext limit follows the bucket.
    app = make_app("sqlite", ATTACHMENT_MAX_BYTES=MIB)
    with app.app_context():
        org = make_org_key()
        data = b"\xff" * MIB
        if path.startswith("browser"):
            part = sealed_part(_sealed(org, data), path.removeprefix("browser "))
            response = _browser_post(app, org, [part])
            assert response.status_code == 201, response.json
        else:
            response = _no_js_post(app, [(data, "max.jpg")])
            assert response.status_code == 303, response.text  # to the receipt
        (attachment,) = _stored()
        assert attachment.size == 2 * MIB
        assert open_file(attachment.sealed_content, org.secret).data == data
