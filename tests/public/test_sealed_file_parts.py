"""Sealed files from the browser travel as raw binary parts (submitter.js: a part named "sealed"
holding the ciphertext as it is), and from a page loaded before that, in base64 (a part named
"sealed.bin"). Both are decoded to the same ciphertext and checked the same way; whatever
arrives in a file part, or in its place, the answer is a 201 or a clear 400 said beside the
file field, never a 500, and a refused request or follow-up writes nothing at all."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake import crypto
from intake.extensions import db
from intake.models import CaseAttachment, Urgency
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import table_count
from tests.public.conftest import WIRES, full_answers, sealed_part
from tests.sealed import open_file

KIB = 1024
MIB = 1024 * 1024
Part = tuple[io.BytesIO, str, str]


@pytest.fixture
def org(roomy_app: Flask) -> OrgKeyPair:
    return make_org_key()


def _sealed(org: OrgKeyPair, data: bytes = b"photo bytes", name: str = "a.png") -> bytes:
    plain = submissions.PlainFile(name=name, content_type="image/png", data=data)
    return submissions.seal_file(plain, org.public)


def _browser_form(org: OrgKeyPair, attachments: list[Part] | str, **fields: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "sealed_answers": crypto.seal_answers(full_answers(), org.public),
        "org_key_id": str(org.key.id),
        "urgency": "days",
        "threats": ["detention"],
        "consent_given": "1",
        "submission_token": crypto.new_submission_token(),
        "attachments": attachments,
    }
    form.update(fields)
    return {name: value for name, value in form.items() if value is not None}


def _post(app: Flask, path: str, data: dict[str, Any]) -> Any:
    client = app.test_client()
    key = client.get("/request/key").json
    assert key is not None
    return client.post(
        path,
        data=data,
        content_type="multipart/form-data",
        headers={"Accept": "application/json", "X-CSRFToken": key["csrf_token"]},
    )


def _request(app: Flask, org: OrgKeyPair, attachments: list[Part] | str, **fields: Any) -> Any:
    return _post(app, "/request", _browser_form(org, attachments, **fields))


def _case_code(org: OrgKeyPair) -> str:
    return submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS), org_key=org.key, answers={}, files=[], locale="en"
    ).receipt_code


def _follow_up(
    app: Flask, org: OrgKeyPair, code: str, attachments: list[Part] | str, **fields: Any
) -> Any:
    data: dict[str, Any] = {
        "code": code,
        "org_key_id": str(org.key.id),
        "sealed_body": crypto.seal_answers({"body": "more"}, org.public),
        "submission_token": crypto.new_submission_token(),
        "attachments": attachments,
        **fields,
    }
    return _post(app, "/status/follow-up", {k: v for k, v in data.items() if v is not None})


def _written() -> tuple[int, ...]:
    db.session.rollback()
    return tuple(
        table_count(name) for name in ("cases", "case_messages", "case_attachments", "audit_events")
    )


def _stored() -> list[bytes]:
    db.session.expire_all()
    return list(
        db.session.scalars(sa.select(CaseAttachment.sealed_content).order_by(CaseAttachment.id))
    )


def _refused_beside_the_files(response: Any) -> str:
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert response.json["field"] == "attachments", response.json
    return str(response.json["error"])


# ---------------------------------------------------------------------------------------------
# The raw part: what submitter.js sends now


def test_a_raw_part_is_stored_byte_for_byte_and_opens(roomy_app: Flask, org: OrgKeyPair) -> None:
    sealed = _sealed(org, b"\x00\xff raw evidence \r\n--boundary-like--\r\n")
    response = _request(roomy_app, org, [sealed_part(sealed, "raw")])
    assert response.status_code == 201, response.json
    assert _stored() == [sealed]
    opened = open_file(sealed, org.secret)
    assert opened.data == b"\x00\xff raw evidence \r\n--boundary-like--\r\n"


def test_raw_and_base64_parts_of_one_ciphertext_store_the_same_bytes_in_order(
    roomy_app: Flask, org: OrgKeyPair
) -> None:
    """A request may even mix them (it never does): each part is decoded by its own name, then
    checked as one, in the order sent."""
    first, second, third = (_sealed(org, bytes([n]) * (n * 3000)) for n in (1, 2, 3))
    parts = [sealed_part(first, "raw"), sealed_part(second, "base64"), sealed_part(third, "raw")]
    response = _request(roomy_app, org, parts)
    assert response.status_code == 201, response.json
    assert _stored() == [first, second, third]


def test_an_older_pages_base64_may_end_in_a_line_break(roomy_app: Flask, org: OrgKeyPair) -> None:
    sealed = _sealed(org)
    text = crypto.b64(sealed).encode() + b"\r\n"
    response = _request(roomy_app, org, [(io.BytesIO(text), "sealed.bin", "text/plain")])
    assert response.status_code == 201, response.json
    assert _stored() == [sealed]


@pytest.mark.parametrize("wire", WIRES)
def test_a_follow_up_stores_its_files_as_sealed(
    roomy_app: Flask, org: OrgKeyPair, wire: str
) -> None:
    sealed = [_sealed(org, b"first"), _sealed(org, b"second" * 2000)]
    response = _follow_up(roomy_app, org, _case_code(org), [sealed_part(s, wire) for s in sealed])
    assert response.status_code == 201, response.json
    assert _stored() == sealed


# ---------------------------------------------------------------------------------------------
# Hostile parts: refused beside the file field, nothing written


def _valid(org: OrgKeyPair) -> bytes:
    return _sealed(org)


RAW_ATTACKS: dict[str, Callable[[OrgKeyPair], list[Part]]] = {
    "empty": lambda org: [(io.BytesIO(b""), "sealed", "application/octet-stream")],
    "empty without a file name": lambda org: [(io.BytesIO(b""), "", "application/octet-stream")],
    "shorter than a seal": lambda org: [sealed_part(b"\x01" * 48)],
    "a bucket less a byte": lambda org: [sealed_part(_valid(org)[:-1])],
    "a bucket plus a byte": lambda org: [sealed_part(_valid(org) + b"\x00")],
    "not a bucket (5 KiB)": lambda org: [sealed_part(os.urandom(5 * KIB + 48))],
    "a bucket without the seal": lambda org: [sealed_part(os.urandom(4 * KIB))],
    "base64 text in a raw part": lambda org: [
        (io.BytesIO(crypto.b64(_valid(org)).encode()), "sealed", "application/octet-stream")
    ],
    "raw bytes in an older page's part": lambda org: [
        (io.BytesIO(_valid(org)), "sealed.bin", "application/octet-stream")
    ],
    "a plain file under its own name": lambda org: [
        (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 5000), "photo.png", "image/png")
    ],
    "one good file, then one bad": lambda org: [
        sealed_part(_valid(org)),
        sealed_part(_valid(org)[:-7]),
    ],
}


@pytest.mark.parametrize("kind", list(RAW_ATTACKS))
def test_hostile_file_parts_on_a_request_are_refused_beside_the_field(
    roomy_app: Flask, org: OrgKeyPair, kind: str
) -> None:
    before = _written()
    error = _refused_beside_the_files(_request(roomy_app, org, RAW_ATTACKS[kind](org)))
    assert "file" in error
    assert _written() == before


@pytest.mark.parametrize("kind", list(RAW_ATTACKS))
def test_hostile_file_parts_on_a_follow_up_are_refused_beside_the_field(
    roomy_app: Flask, org: OrgKeyPair, kind: str
) -> None:
    code = _case_code(org)
    before = _written()
    error = _refused_beside_the_files(_follow_up(roomy_app, org, code, RAW_ATTACKS[kind](org)))
    assert "file" in error
    assert _written() == before


def test_the_wrong_length_is_said_as_such(roomy_app: Flask, org: OrgKeyPair) -> None:
    error = _refused_beside_the_files(
        _request(roomy_app, org, [sealed_part(_valid(org)), sealed_part(_valid(org)[:-1])])
    )
    assert error == "Sealed file 2 has the wrong length: it is truncated or was not padded."


def test_raw_files_too_many_or_too_large_are_refused(make_app: Any) -> None:
    app = make_app("sqlite", ATTACHMENT_MAX_BYTES=2000, ATTACHMENT_MAX_COUNT=2)
    with app.app_context():
        org = make_org_key()
        before = _written()
        many = [sealed_part(_sealed(org)) for _ in range(3)]
        assert "At most 2 files" in _refused_beside_the_files(_request(app, org, many))
        # A whole bucket, but over the largest this app takes (2000 bytes: the 4 KiB bucket).
        big = [sealed_part(_sealed(org, b"z" * 5000))]
        assert "too large" in _refused_beside_the_files(_request(app, org, big))
        in_base64 = [sealed_part(_sealed(org, b"z" * 5000), "base64")]
        assert "too large" in _refused_beside_the_files(_request(app, org, in_base64))
        assert _written() == before


@pytest.mark.parametrize("path", ["request", "follow-up"])
def test_the_file_field_sent_as_text_is_refused_beside_it(
    roomy_app: Flask, org: OrgKeyPair, path: str
) -> None:
    text = crypto.b64(_valid(org))
    code = _case_code(org)
    before = _written()
    if path == "request":
        response = _request(roomy_app, org, text)
    else:
        response = _follow_up(roomy_app, org, code, text)
    error = _refused_beside_the_files(response)
    assert error.startswith("The files arrived as text, not as files. Nothing was saved.")
    assert _written() == before


def test_the_message_for_files_sent_as_text_is_translated(
    roomy_app: Flask, org: OrgKeyPair
) -> None:
    client = roomy_app.test_client()
    key = client.get("/request/key").json
    assert key is not None
    data = _browser_form(org, "text")
    response = client.post(
        "/request?lang=fr",
        data=data,
        content_type="multipart/form-data",
        headers={"Accept": "application/json", "X-CSRFToken": key["csrf_token"]},
    )
    assert "Les fichiers sont arrivés sous forme de texte" in _refused_beside_the_files(response)


@pytest.mark.parametrize("name", ["sealed_answers", "submission_token", "org_key_id"])
def test_a_file_part_where_a_text_field_belongs_is_refused(
    roomy_app: Flask, org: OrgKeyPair, name: str
) -> None:
    form = _browser_form(org, [sealed_part(_valid(org))])
    value = str(form[name]).encode()
    form[name] = (io.BytesIO(value), "sealed", "application/octet-stream")
    before = _written()
    response = _post(roomy_app, "/request", form)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert _written() == before


def test_a_file_part_for_the_follow_ups_message_is_refused(
    roomy_app: Flask, org: OrgKeyPair
) -> None:
    code = _case_code(org)
    body = crypto.seal_answers({"body": "more"}, org.public).encode()
    before = _written()
    response = _follow_up(
        roomy_app,
        org,
        code,
        [],
        sealed_body=None,
        sealed_for_submitter=(io.BytesIO(body), "sealed", "application/octet-stream"),
    )
    assert 400 <= response.status_code < 500
    assert _written() == before


# ---------------------------------------------------------------------------------------------
# Whatever the parts hold: a 201 storing exactly the ciphertext, or a 400 writing nothing


def _is_bucket(size: int) -> bool:
    """The padding rule, written out again (not intake.crypto's): a power of two from 4 KiB
    up to 1 MiB, then whole MiB."""
    if size >= MIB:
        return size % MIB == 0
    return size >= 4 * KIB and bin(size).count("1") == 1


def _ciphertext_of(name: str, content: bytes, largest: int) -> bytes | None:
    """What the server must store for one part, or None when it must refuse it."""
    if name == "sealed.bin":
        try:
            text = content.decode("ascii").strip()
            raw = crypto.b64decode_strict(text)
        except (UnicodeDecodeError, crypto.InvalidCiphertext):
            return None
    else:
        raw = content
    if len(raw) > largest or not _is_bucket(len(raw) - 48):
        return None
    return raw


def test_fuzzed_file_parts_are_stored_exactly_or_refused_whole(
    roomy_app: Flask, org: OrgKeyPair
) -> None:
    valid = [_sealed(org, bytes([n]) * (n * 2500)) for n in range(1, 4)]  # 4, 8 and 8 KiB
    largest = submissions.sealed_file_max_bytes()
    outcomes: set[int] = set()

    @st.composite
    def part(draw: st.DrawFn) -> tuple[str, bytes]:
        name = draw(st.sampled_from(["sealed", "sealed", "sealed.bin", "", "photo.png"]))
        sealed = draw(st.sampled_from(valid))
        cut = draw(st.integers(1, 64))
        content = draw(
            st.one_of(
                st.just(sealed),
                st.just(crypto.b64(sealed).encode()),
                st.just(sealed[:-cut]),
                st.just(sealed + bytes(cut)),
                st.just(crypto.b64(sealed[:-cut]).encode()),
                st.just(crypto.b64(sealed).encode() + draw(st.sampled_from([b"\n", b" ", b"!"]))),
                st.binary(max_size=200),
                st.binary(min_size=4 * KIB + 40, max_size=4 * KIB + 56),
            )
        )
        return name, content

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(parts=st.lists(part(), max_size=4))
    def post(parts: list[tuple[str, bytes]]) -> None:
        expected = [_ciphertext_of(name, content, largest) for name, content in parts]
        before = _written()
        stored_before = len(_stored())
        attachments = [(io.BytesIO(c), name, "application/octet-stream") for name, c in parts]
        response = _request(roomy_app, org, attachments)
        assert response.status_code in {201, 400}, response.status_code
        outcomes.add(response.status_code)
        if all(raw is not None for raw in expected):
            assert response.status_code == 201, (response.json, [n for n, _ in parts])
            assert _stored()[stored_before:] == expected
        else:
            _refused_beside_the_files(response)
            assert _written() == before

    post()
    assert outcomes == {201, 400}  # both were reached, not only refusals
