"""The counters count characters; the seal takes bytes. An answer within its counter's limit
is never refused for its size: at 320 KiB, a request form whose answers were emoji (four bytes
each in UTF-8), every answer within its counter, was refused as "The sealed answers are not
valid: sealed answers is too large." SEALED_ANSWERS_MAX_BYTES now holds the most the form's
counters let through, each character as JSON writes the largest (six bytes: a control
character's escape), padded and sealed; a follow-up (8000 characters) always fitted.

Where the setting is lowered below that (or a page counted otherwise), the refusal is clear and
names the field it is about (the browser says it beside it), and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, current_app

from intake import crypto
from intake.labels import SEALED_FIELDS
from intake.public.forms import LONG_MAX, FollowUpForm, IntakeForm, answer_limit
from intake.services import submissions
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import table_count
from tests.public.conftest import send_sealed_follow_up

EMOJI = "\U0001f54a"  # four bytes in UTF-8, one character to the counters
CONTROL = "\x01"  # six bytes in JSON (\u0001): the most any character takes
MANY = {"REQUEST_RATE_LIMIT": "1000 per hour", "FOLLOW_UP_RATE_LIMIT": "1000/hour"}
ANSWERS_TOO_LONG = "Your answers together are too long to be encrypted and sent"
MESSAGE_TOO_LONG = "Your message is too long to be encrypted and sent"


def _every_answer_at_its_limit(character: str) -> dict[str, str]:
    """The request form's sealed answers, each free-text one at its counter's limit of
    ``character``, each choice at its longest value."""
    with current_app.test_request_context():
        form = IntakeForm()
    answers: dict[str, str] = {}
    for name in SEALED_FIELDS:
        field = form[name]
        limit = answer_limit(field)
        if limit:
            answers[name] = character * limit
        else:
            answers[name] = max((str(choice.value) for choice in field.choices), key=len)
    return answers


def _sealed_size(value: Any) -> int:
    """What intake.js sends, sealed: JSON.stringify writes what json.dumps does here (control
    characters as \\u00XX, the rest as UTF-8), padded to whole blocks."""
    return len(crypto.pad(json.dumps(value, ensure_ascii=False).encode())) + crypto.SEAL_OVERHEAD


def _post_sealed(app: Flask, org: OrgKeyPair, answers: dict[str, str], lang: str = "en") -> Any:
    client = app.test_client()
    key = client.get("/request/key").get_json()
    return client.post(
        f"/request?lang={lang}",
        data={
            "csrf_token": key["csrf_token"],
            "sealed_answers": crypto.seal_answers(answers, org.public),
            "org_key_id": str(org.key.id),
            "urgency": "days",
            "consent_given": "1",
        },
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )


@pytest.fixture
def roomy(make_app: Any) -> Iterator[Flask]:
    app = make_app("sqlite", **MANY)
    with app.app_context():
        yield app


@pytest.fixture
def lowered(make_app: Any) -> Iterator[Flask]:
    """An organisation that set the sealed answers' room below what the counters allow."""
    app = make_app("sqlite", SEALED_ANSWERS_MAX_BYTES=32 * 1024, **MANY)
    with app.app_context():
        yield app


def test_the_sealed_room_holds_every_request_form_its_counters_let_through(roomy: Flask) -> None:
    most = _sealed_size(_every_answer_at_its_limit(CONTROL))
    assert most > 320 * 1024  # the old room: the form could be refused within every counter
    assert roomy.config["SEALED_ANSWERS_MAX_BYTES"] >= most
    # ... and a follow-up, with room to spare.
    with roomy.test_request_context():
        follow_up_limit = answer_limit(FollowUpForm().body)
    assert follow_up_limit == LONG_MAX
    assert _sealed_size({"body": CONTROL * follow_up_limit}) < most


@pytest.mark.parametrize("character", [EMOJI, CONTROL], ids=["emoji", "control characters"])
def test_a_request_with_every_answer_at_its_limit_is_filed(roomy: Flask, character: str) -> None:
    org = make_org_key()
    answers = _every_answer_at_its_limit(character)
    response = _post_sealed(roomy, org, answers)
    assert response.status_code == 201, response.get_json()
    code = response.get_json()["receipt_code"]
    case = submissions.find_case_by_receipt(code)
    assert case is not None
    assert crypto.open_answers(case.sealed_answers, org.secret) == answers


def test_a_follow_up_of_the_most_characters_is_stored(roomy: Flask) -> None:
    """8000 characters of the largest kind: far within the room (a guard, not a change)."""
    org = make_org_key()
    code = _post_sealed(roomy, org, {"what_happened": "x"}).get_json()["receipt_code"]
    for character in (EMOJI, CONTROL):
        sent = send_sealed_follow_up(roomy, org, code, character * LONG_MAX, None)
        assert sent.status_code == 201, sent.get_json()
    assert table_count("case_messages") == 2


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", ANSWERS_TOO_LONG), ("es", "Sus respuestas, en conjunto, son demasiado largas")],
)
def test_answers_too_long_to_seal_are_refused_clearly_for_a_field(
    lowered: Flask, lang: str, words: str
) -> None:
    org = make_org_key()
    answers = {"what_happened": EMOJI * LONG_MAX}  # within the counter, over the room
    response = _post_sealed(lowered, org, answers, lang)
    assert response.status_code == 413
    body = response.get_json()
    assert body["field"] == "answers"  # intake.js says it beside the answer taking most room
    assert body["error"].startswith(words)
    assert "not valid" not in body["error"]
    assert table_count("cases") == 0
    assert table_count("audit_events") == 0
    # Within the room, the same organisation files it.
    assert _post_sealed(lowered, org, {"what_happened": EMOJI * 1000}).status_code == 201


def test_a_follow_up_too_long_to_seal_is_refused_clearly_beside_the_message(
    lowered: Flask,
) -> None:
    org = make_org_key()
    code = _post_sealed(lowered, org, {"what_happened": "x"}).get_json()["receipt_code"]
    refused = send_sealed_follow_up(lowered, org, code, EMOJI * LONG_MAX, None)
    assert refused.status_code == 413
    assert refused.get_json()["field"] == "body"
    assert refused.get_json()["error"].startswith(MESSAGE_TOO_LONG)
    assert table_count("case_messages") == 0
    # Its own copy (sealed for the defender) too large alone: the same, nothing stored.
    client = lowered.test_client()
    key = client.get("/request/key").get_json()
    own_copy = client.post(
        "/status/follow-up",
        data={
            "code": code,
            "org_key_id": str(org.key.id),
            "sealed_body": crypto.seal_answers({"body": "short"}, org.public),
            "sealed_for_submitter": crypto.seal_answers({"body": EMOJI * LONG_MAX}, org.public),
        },
        headers={"Accept": "application/json", "X-CSRFToken": key["csrf_token"]},
        content_type="multipart/form-data",
    )
    assert own_copy.status_code == 413
    assert own_copy.get_json()["field"] == "body"
    assert table_count("case_messages") == 0
    assert send_sealed_follow_up(lowered, org, code, EMOJI * 1000, None).status_code == 201


@pytest.mark.parametrize(
    "sealed",
    ["A" * 200_000, "not base64 at all!" * 10_000, "=" * 50_000],
    ids=["base64 letters", "not base64", "padding"],
)
def test_hostile_sealed_text_over_the_room_is_refused_and_nothing_is_stored(
    lowered: Flask, sealed: str
) -> None:
    org = make_org_key()
    client = lowered.test_client()
    key = client.get("/request/key").get_json()
    response = client.post(
        "/request",
        data={
            "csrf_token": key["csrf_token"],
            "sealed_answers": sealed,
            "org_key_id": str(org.key.id),
            "urgency": "days",
            "consent_given": "0",
        },
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.get_json()["field"] == "answers"
    assert table_count("cases") == 0
