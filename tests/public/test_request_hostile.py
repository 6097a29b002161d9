"""The browser path's endpoint under hostile input: a clear 4xx, nothing stored, never a 500."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import SealedBy
from intake.services import submissions
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import table_count
from tests.public.conftest import csrf_token, full_answers
from tests.sealed import open_file


def _sealed_answers(org: OrgKeyPair, answers: dict[str, Any] | None = None) -> str:
    payload = json.dumps(answers or full_answers()).encode()
    return crypto.b64(crypto.seal(crypto.pad(payload), org.public))


def _sealed_file(org: OrgKeyPair, data: bytes = b"photo bytes") -> bytes:
    plain = submissions.PlainFile(name="a.png", content_type="image/png", data=data)
    return crypto.b64(submissions.seal_file(plain, org.public)).encode()


def _browser_form(org: OrgKeyPair, token: str, **overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": token,
        "sealed_answers": _sealed_answers(org),
        "org_key_id": str(org.key.id),
        "urgency": "days",
        "threats": ["detention"],
        "profiles": ["journalist"],
        "country": "HK",
        "languages": ["zh"],
        "consent_given": "1",
        "website": "",
        "attachments": [(io.BytesIO(_sealed_file(org)), "sealed.bin", "application/octet-stream")],
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


@pytest.fixture
def org(roomy_app: Flask) -> OrgKeyPair:
    return make_org_key()


def _client_and_token(app: Flask) -> tuple[Any, str]:
    client = app.test_client()
    return client, csrf_token(client)


def _send(app: Flask, org: OrgKeyPair, **overrides: Any) -> Any:
    client, token = _client_and_token(app)
    return client.post(
        "/request",
        data=_browser_form(org, token, **overrides),
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )


def _nothing_stored() -> None:
    db.session.rollback()
    assert table_count("cases") == 0
    assert table_count("case_attachments") == 0
    assert table_count("audit_events") == 0


def test_well_formed_browser_ciphertext_is_stored_as_sent(
    roomy_app: Flask, org: OrgKeyPair
) -> None:
    response = _send(roomy_app, org)
    assert response.status_code == 201, response.json
    code = response.json["receipt_code"]
    case = submissions.find_case_by_receipt(code)
    assert case is not None
    assert case.sealed_by is SealedBy.BROWSER
    assert crypto.open_answers(case.sealed_answers, org.secret) == full_answers()
    photo = open_file(case.attachments[0].sealed_content, org.secret)
    assert photo.data == b"photo bytes"
    # The reply key is the one the browser derives from the code.
    normalised = crypto.normalise_receipt_code(code)
    assert normalised is not None
    assert case.reply_public_key == crypto.reply_keypair(normalised)[0]


def _url_safe_ciphertext(org: OrgKeyPair) -> str:
    while True:  # until the standard alphabet's + or / shows up, then use the URL-safe one
        text = _sealed_answers(org)
        if "+" in text or "/" in text:
            return text.replace("+", "-").replace("/", "_").rstrip("=")


def _truncated(org: OrgKeyPair) -> str:
    raw = crypto.b64decode_strict(_sealed_answers(org))
    return crypto.b64(raw[:-10])


def _tampered_length(org: OrgKeyPair) -> str:
    raw = crypto.b64decode_strict(_sealed_answers(org))
    return crypto.b64(raw + b"\x00" * 7)


def _unpadded(org: OrgKeyPair) -> str:
    return crypto.b64(crypto.seal(b'{"what_happened": "short"}', org.public))


HOSTILE_ANSWERS: dict[str, Callable[[OrgKeyPair], Any]] = {
    "non-base64": lambda org: "this is not base64!!",
    "url-safe base64": _url_safe_ciphertext,
    "truncated": _truncated,
    "tampered length": _tampered_length,
    "not padded": _unpadded,
    "too short": lambda org: crypto.b64(b"x" * 40),
    "oversized": lambda org: crypto.b64(b"\x00" * (330 * 1024)),
    "empty": lambda org: "",
    "whitespace inside": lambda org: _sealed_answers(org)[:20] + " \n" + _sealed_answers(org)[20:],
}


@pytest.mark.parametrize("kind", list(HOSTILE_ANSWERS))
def test_malformed_sealed_answers_are_refused(roomy_app: Flask, org: OrgKeyPair, kind: str) -> None:
    response = _send(roomy_app, org, sealed_answers=HOSTILE_ANSWERS[kind](org))
    assert response.status_code == 400, response.json
    assert "sealed answers" in response.json["error"]
    _nothing_stored()


def test_a_bit_flipped_ciphertext_cannot_be_detected_by_the_server_but_never_opens(
    roomy_app: Flask, org: OrgKeyPair
) -> None:
    """Tampering that keeps the shape is only detectable with the secret key (the MAC): the
    server stores it, and a caseworker's browser reports it cannot be opened."""
    raw = bytearray(crypto.b64decode_strict(_sealed_answers(org)))
    raw[100] ^= 0x01
    response = _send(roomy_app, org, sealed_answers=crypto.b64(bytes(raw)))
    assert response.status_code == 201
    case = submissions.find_case_by_receipt(response.json["receipt_code"])
    assert case is not None
    with pytest.raises(crypto.InvalidCiphertext):
        crypto.open_answers(case.sealed_answers, org.secret)


def test_wrong_or_retired_key_ids_are_refused(roomy_app: Flask, org: OrgKeyPair) -> None:
    for key_id in ("999", "abc", "", "-1"):
        response = _send(roomy_app, org, org_key_id=key_id)
        assert response.status_code == 400, key_id
        assert "key" in response.json["error"]
    org.key.retired_at = utcnow()
    db.session.commit()
    make_org_key()  # the current one is another key now
    response = _send(roomy_app, org)
    assert response.status_code == 400
    assert "not in use" in response.json["error"]
    _nothing_stored()


ROUTING_ATTACKS: dict[str, dict[str, Any]] = {
    "missing urgency": {"urgency": None},
    "unknown urgency": {"urgency": "yesterday"},
    "unknown threat": {"threats": ["detention", "<script>"]},
    "unknown profile": {"profiles": ["spy"]},
    "unknown language": {"languages": ["zh", "klingon"]},
    "three-letter language": {"languages": ["zho"]},
    "unknown country": {"country": "XX"},
    "lower-case country": {"country": "tw"},
    "consent not 0/1": {"consent_given": "maybe"},
    "missing consent": {"consent_given": None},
    "too many threats": {"threats": ["detention"] * 50},
}


@pytest.mark.parametrize("kind", list(ROUTING_ATTACKS))
def test_hostile_routing_fields_are_refused(roomy_app: Flask, org: OrgKeyPair, kind: str) -> None:
    response = _send(roomy_app, org, **ROUTING_ATTACKS[kind])
    assert response.status_code == 400, response.json
    assert response.json["error"]
    _nothing_stored()


def test_plaintext_answers_next_to_ciphertext_are_refused(
    roomy_app: Flask, org: OrgKeyPair
) -> None:
    response = _send(roomy_app, org, what_happened="plaintext that must never be stored")
    assert response.status_code == 400
    assert "Unexpected fields: what_happened" in response.json["error"]
    _nothing_stored()


def test_missing_sealed_answers_fall_to_the_form_path_and_are_refused(
    roomy_app: Flask, org: OrgKeyPair
) -> None:
    response = _send(roomy_app, org, sealed_answers=None)
    assert response.status_code == 400
    _nothing_stored()


def test_honeypot_on_the_browser_path_is_refused(roomy_app: Flask, org: OrgKeyPair) -> None:
    response = _send(roomy_app, org, website="http://spam.example")
    assert response.status_code == 400
    _nothing_stored()


FILE_ATTACKS: dict[str, Callable[[OrgKeyPair], Any]] = {
    "plain file": lambda org: [(io.BytesIO(b"\x89PNG raw"), "photo.png", "image/png")],
    "url-safe file": lambda org: [
        (io.BytesIO(_sealed_file(org).replace(b"+", b"-").replace(b"/", b"_") + b"-_"), "s", "x")
    ],
    "binary junk": lambda org: [(io.BytesIO(bytes(range(256))), "sealed.bin", "x")],
    "too short": lambda org: [(io.BytesIO(crypto.b64(b"y" * 10).encode()), "s", "x")],
    "empty": lambda org: [(io.BytesIO(b""), "sealed.bin", "x")],
}


@pytest.mark.parametrize("kind", list(FILE_ATTACKS))
def test_malformed_sealed_files_are_refused(roomy_app: Flask, org: OrgKeyPair, kind: str) -> None:
    response = _send(roomy_app, org, attachments=FILE_ATTACKS[kind](org))
    assert response.status_code == 400, response.json
    assert "file" in response.json["error"]
    _nothing_stored()


def test_too_many_and_too_large_sealed_files_are_refused(make_app: Any) -> None:
    app = make_app("sqlite", ATTACHMENT_MAX_BYTES=2000, ATTACHMENT_MAX_COUNT=2)
    with app.app_context():
        org = make_org_key()
        many = [(io.BytesIO(_sealed_file(org)), "sealed.bin", "x") for _ in range(3)]
        response = _send(app, org, attachments=many)
        assert response.status_code == 400
        assert "At most 2 files" in response.json["error"]
        big = [(io.BytesIO(_sealed_file(org, b"z" * 5000)), "sealed.bin", "x")]
        response = _send(app, org, attachments=big)
        assert response.status_code == 400
        assert "too large" in response.json["error"]
        _nothing_stored()


def test_unexpected_file_fields_are_refused(roomy_app: Flask, org: OrgKeyPair) -> None:
    response = _send(roomy_app, org, evidence=[(io.BytesIO(_sealed_file(org)), "sealed.bin", "x")])
    assert response.status_code == 400
    _nothing_stored()


def test_a_huge_body_is_a_clear_413_json(make_app: Any) -> None:
    app = make_app("sqlite", MAX_CONTENT_LENGTH=100_000)
    with app.app_context():
        org = make_org_key()
        huge = [(io.BytesIO(b"A" * 200_000), "sealed.bin", "x")]
        response = _send(app, org, attachments=huge)
        assert response.status_code == 413
        assert "can be sent at once" in response.json["error"]
        assert "Back" not in response.json["error"]  # the answers are still on the page
        _nothing_stored()


def test_a_missing_or_wrong_csrf_token_is_refused(roomy_app: Flask, org: OrgKeyPair) -> None:
    client = roomy_app.test_client()
    csrf_token(client)
    for token in ("", "forged"):
        response = client.post(
            "/request",
            data=_browser_form(org, token),
            content_type="multipart/form-data",
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 400
        assert response.json is not None
        assert "expired" in response.json["error"]
    _nothing_stored()


def test_the_csrf_header_is_accepted_like_the_form_field(roomy_app: Flask, org: OrgKeyPair) -> None:
    client = roomy_app.test_client()
    key = client.get("/request/key").json
    assert key is not None
    token = key["csrf_token"]
    form = _browser_form(org, "")
    form.pop("csrf_token")
    response = client.post(
        "/request",
        data=form,
        content_type="multipart/form-data",
        headers={"Accept": "application/json", "X-CSRFToken": token},
    )
    assert response.status_code == 201


def test_wrong_methods_and_bodies_never_cause_a_500(roomy_app: Flask, org: OrgKeyPair) -> None:
    client = roomy_app.test_client()
    attempts = [
        client.put("/request"),
        client.post("/request", data=b"\xff\xfe garbage", content_type="multipart/form-data"),
        client.post("/request", data="{}", content_type="application/json"),
        client.post("/request", data="a=1&a=2", content_type="application/x-www-form-urlencoded"),
        client.post("/status", data=b"\x00\x01", content_type="multipart/form-data; boundary=x"),
        client.post("/status/follow-up", data={"code": "x" * 10_000}),
        client.get("/request?lang=xx-klingon"),
        client.get("/status?lang=%00"),
    ]
    for response in attempts:
        assert response.status_code < 500, response.status_code
    _nothing_stored()
