"""A follow-up sent again with its submission token is stored once and answered as the first
time (a defender at /status whose first answer was lost presses Send again).

The token is one per written message; it is claimed in the follow-up's own transaction, in
the table the intake form's tokens use, under a look-up bound to the case."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import CaseMessage, MessageKind, SubmissionToken, Urgency
from intake.services import submissions
from intake.services.triage import Routing
from tests import services
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import TEST_SECRET, table_count
from tests.public.conftest import (
    MALFORMED_TOKENS,
    csrf_token,
    full_answers,
    send_sealed_follow_up,
)
from tests.sealed import open_message

ROOMY = {"STATUS_RATE_LIMIT": "1000/hour", "FOLLOW_UP_RATE_LIMIT": "1000/hour"}
TOKEN_FIELD = re.compile(r'name="submission_token" value="([^"]*)"')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def roomy_any_app(request: pytest.FixtureRequest, make_app: Any) -> Any:
    app = make_app(request.param, **ROOMY)
    with app.app_context():
        yield app


def _case(org: OrgKeyPair) -> submissions.Submission:
    return submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS, threats=("detention",), country="TW"),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="zh_Hant",
    )


def _follow_ups() -> list[CaseMessage]:
    db.session.rollback()
    return list(
        db.session.scalars(
            sa.select(CaseMessage).where(CaseMessage.kind == MessageKind.SUBMITTER_FOLLOW_UP)
        )
    )


def _counts() -> tuple[int, int, int]:
    db.session.rollback()
    return (
        table_count("case_messages"),
        table_count("submission_tokens"),
        table_count("audit_events"),
    )


def test_two_posts_with_one_token_store_one_message_and_both_answer_sent(
    roomy_any_app: Flask,
) -> None:
    org = make_org_key()
    code = _case(org).receipt_code
    token = crypto.new_submission_token()
    before = _counts()

    first = send_sealed_follow_up(roomy_any_app, org, code, "警察今天又來了", token)
    stored = _counts()
    again = send_sealed_follow_up(roomy_any_app, org, code, "警察今天又來了", token)

    assert (first.status_code, again.status_code) == (201, 201)
    # The same answer both times: sent, with no files to speak of (status.js adds the message).
    assert first.get_json() == again.get_json() == {"sent": True, "files_note": ""}
    assert stored[:2] == (before[0] + 1, before[1] + 1)
    assert _counts() == stored  # no message, token row or audit event more
    (message,) = _follow_ups()
    assert open_message(message.sealed_body, org.secret) == "警察今天又來了"


def test_a_new_message_with_its_own_token_or_none_is_stored_again(roomy_any_app: Flask) -> None:
    org = make_org_key()
    code = _case(org).receipt_code
    for token in (crypto.new_submission_token(), crypto.new_submission_token(), None, None):
        assert (
            send_sealed_follow_up(roomy_any_app, org, code, "same words", token).status_code == 201
        )
    assert len(_follow_ups()) == 4


def test_a_token_is_bound_to_its_case_and_apart_from_the_request_tokens(
    roomy_any_app: Flask,
) -> None:
    """The same token on another case, or a request's token on a follow-up, stores: a token
    only ever spares a retry of the same message to the same case."""
    org = make_org_key()
    token = crypto.new_submission_token()
    raw = crypto.submission_token_bytes(token)
    assert raw is not None
    first, second = _case(org), _case(org)
    db.session.add(
        SubmissionToken(
            lookup=crypto.submission_token_lookup(raw, TEST_SECRET),
            sealed_receipt=crypto.seal_receipt_for_token(first.receipt_code, raw),
            created_at=utcnow(),
        )
    )
    db.session.commit()

    for submission in (first, second):
        response = send_sealed_follow_up(roomy_any_app, org, submission.receipt_code, "news", token)
        assert response.status_code == 201
    assert sorted(message.case_id for message in _follow_ups()) == sorted(
        [first.case_id, second.case_id]
    )
    assert table_count("submission_tokens") == 3


def test_neither_the_token_nor_anything_derived_without_the_secret_is_stored(
    roomy_any_app: Flask,
) -> None:
    org = make_org_key()
    submission = _case(org)
    token = crypto.new_submission_token()
    send_sealed_follow_up(roomy_any_app, org, submission.receipt_code, "hello", token)
    raw = crypto.submission_token_bytes(token)
    assert raw is not None
    row = db.session.scalars(sa.select(SubmissionToken)).one()
    assert row.lookup == crypto.follow_up_token_lookup(raw, submission.case_id, TEST_SECRET)
    assert row.sealed_receipt is None
    assert token not in row.lookup


@pytest.mark.parametrize("kind", MALFORMED_TOKENS)
def test_a_malformed_token_is_a_clear_400_and_nothing_is_written(
    roomy_any_app: Flask, kind: str
) -> None:
    org = make_org_key()
    code = _case(org).receipt_code
    before = _counts()
    response = send_sealed_follow_up(roomy_any_app, org, code, "news", MALFORMED_TOKENS[kind])
    assert response.status_code == 400
    assert "submission token is not valid" in response.get_json()["error"]
    assert _counts() == before


def test_a_malformed_token_without_js_is_a_clear_400(roomy_any_app: Flask) -> None:
    org = make_org_key()
    code = _case(org).receipt_code
    before = _counts()
    client = roomy_any_app.test_client()
    form = {
        "csrf_token": csrf_token(client, "/status"),
        "code": code,
        "body": "news",
        "submission_token": "not-a-token",
    }
    response = client.post("/status/follow-up", data=form, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "submission token is not valid" in response.text
    assert _counts() == before


def _status_page(client: Any, code: str) -> str:
    response = client.post(
        "/status", data={"csrf_token": csrf_token(client, "/status"), "code": code}
    )
    assert response.status_code == 200
    return str(response.text)


def test_without_js_the_form_carries_a_token_and_posted_twice_stores_one_message(
    roomy_any_app: Flask,
) -> None:
    org = make_org_key()
    code = _case(org).receipt_code
    client = roomy_any_app.test_client()
    page = _status_page(client, code)
    (token,) = TOKEN_FIELD.findall(page)
    assert crypto.submission_token_bytes(token) is not None
    form = {
        "csrf_token": csrf_token(client, "/status"),
        "code": code,
        "body": "second message, sent twice",
        "submission_token": token,
    }

    answers = [
        client.post("/status/follow-up", data=form, content_type="multipart/form-data")
        for _attempt in range(2)  # the answer lost, or Back and Send again
    ]

    assert [answer.status_code for answer in answers] == [200, 200]
    for answer in answers:
        assert "Your message was sent securely." in answer.text
        # The page after a message was sent is ready for a new one, with a new token.
        (next_token,) = TOKEN_FIELD.findall(answer.text)
        assert next_token != token
    (message,) = _follow_ups()
    assert open_message(message.sealed_body, org.secret) == "second message, sent twice"
    # Reread on the status page: once.
    assert _status_page(client, code).count("second message, sent twice") == 1


def test_without_js_back_after_a_lost_answer_sends_the_same_message_once(
    roomy_any_app: Flask,
) -> None:
    """A reviewer with JavaScript off: the follow-up reached the server, its answer was lost,
    Back drew the status page again (a new POST of the code) with the text still typed, and
    Send stored it a second time: the page had drawn a fresh token. The form's token now
    stays the session's until a message is stored; the lost answer's cookie never arrived."""
    org = make_org_key()
    code = _case(org).receipt_code
    client = roomy_any_app.test_client()
    (token,) = TOKEN_FIELD.findall(_status_page(client, code))
    cookie = roomy_any_app.config["SESSION_COOKIE_NAME"]
    before = client.get_cookie(cookie)
    assert before is not None
    form = {
        "csrf_token": csrf_token(client, "/status"),
        "code": code,
        "body": "Me detuvieron otra vez anoche.",
        "submission_token": token,
    }
    sent = client.post("/status/follow-up", data=form, content_type="multipart/form-data")
    assert sent.status_code == 200
    client.set_cookie(cookie, before.value)  # the answer, and its cookie, never arrived
    (redrawn,) = TOKEN_FIELD.findall(_status_page(client, code))  # Back
    assert redrawn == token
    again = client.post(
        "/status/follow-up",
        data={**form, "submission_token": redrawn},
        content_type="multipart/form-data",
    )
    assert "Your message was sent securely." in again.text
    assert len(_follow_ups()) == 1
    # A second tab of the same session, drawn before either answer: same token, other text.
    other = client.post(
        "/status/follow-up",
        data={**form, "body": "Y otra cosa que olvidé."},
        content_type="multipart/form-data",
    )
    assert other.status_code == 200
    assert len(_follow_ups()) == 2
    # Once an answer arrives, the next message gets a new token.
    (fresh,) = TOKEN_FIELD.findall(_status_page(client, code))
    assert fresh != token


def test_without_js_a_form_shown_again_keeps_its_token(roomy_any_app: Flask) -> None:
    org = make_org_key()
    code = _case(org).receipt_code
    client = roomy_any_app.test_client()
    token = crypto.new_submission_token()
    form = {
        "csrf_token": csrf_token(client, "/status"),
        "code": code,
        "body": "",  # required: shown again
        "submission_token": token,
    }
    again = client.post("/status/follow-up", data=form, content_type="multipart/form-data")
    assert again.status_code == 422
    assert TOKEN_FIELD.findall(again.text) == [token]
    changed = client.post(
        "/status?change_language=1&lang=fr",
        data={**form, "body": "écrit"},
        content_type="multipart/form-data",
    )
    assert changed.status_code == 200
    assert TOKEN_FIELD.findall(changed.text) == [token]
    assert _follow_ups() == []


def test_a_repeat_does_not_spend_the_follow_up_limit(make_app: Any) -> None:
    app = make_app("sqlite", FOLLOW_UP_RATE_LIMIT="2 per hour")
    with app.app_context():
        org = make_org_key()
        code = _case(org).receipt_code
        first = crypto.new_submission_token()
        statuses = [
            send_sealed_follow_up(app, org, code, text, token).status_code
            for text, token in (
                ("one", first),
                ("one", first),  # its answer was lost: sent again, not counted
                ("two", crypto.new_submission_token()),
                ("three", crypto.new_submission_token()),
            )
        ]
        assert statuses == [201, 201, 201, 429]
        assert len(_follow_ups()) == 2


@pytest.mark.postgres
def test_concurrent_posts_with_one_token_store_one_message_on_postgresql(make_app: Any) -> None:
    """Six attempts at once with one token; each holds its transaction open a moment after
    claiming (the search re-index mark is slowed), so the others wait on its row."""
    app = make_app("postgres", SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10}, **ROOMY)
    with app.app_context():
        org = make_org_key()
        code = _case(org).receipt_code
        token = crypto.new_submission_token()
        key_id, public = str(org.key.id), org.public
        db.session.remove()

    slow = submissions.search.needs_reindex

    def reindex_taking_its_time(case_id: int) -> None:
        import time

        time.sleep(0.2)
        slow(case_id)

    answers: list[Any] = [None] * 6
    start = threading.Barrier(len(answers))

    def attempt(index: int) -> None:
        with app.app_context():
            client = app.test_client()
            key = client.get("/request/key").get_json()
            start.wait()
            response = client.post(
                "/status/follow-up",
                data={
                    "code": code,
                    "org_key_id": key_id,
                    "sealed_body": crypto.seal_answers({"body": "at once"}, public),
                    "submission_token": token,
                },
                headers={"Accept": "application/json", "X-CSRFToken": key["csrf_token"]},
                content_type="multipart/form-data",
            )
            answers[index] = response.status_code

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(submissions.search, "needs_reindex", reindex_taking_its_time)
        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(answers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert answers == [201] * len(answers)
    with app.app_context():
        assert len(_follow_ups()) == 1
        assert table_count("submission_tokens") == 1
        follow_up_events = db.session.scalar(
            sa.text("SELECT count(*) FROM audit_events WHERE action = 'case.follow_up'")
        )
        assert follow_up_events == 1


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_migration_lets_a_follow_up_row_hold_no_receipt_and_back(
    unmigrated_app: Callable[[str], Flask], backend: str
) -> None:
    app = unmigrated_app(backend)
    insert = sa.text(
        "INSERT INTO submission_tokens (lookup, sealed_receipt, created_at) "
        "VALUES (:lookup, :sealed, :now)"
    )
    with app.app_context():
        services.empty_database()
        upgrade(revision="0024")
        db.session.execute(insert, {"lookup": "a" * 64, "sealed": "x", "now": utcnow()})
        db.session.commit()
        upgrade(revision="0025")
        db.session.execute(insert, {"lookup": "b" * 64, "sealed": None, "now": utcnow()})
        db.session.commit()
        downgrade(revision="0024")
        left = db.session.execute(sa.text("SELECT lookup FROM submission_tokens")).scalars()
        assert list(left) == ["a" * 64]
        db.session.remove()
        downgrade(revision="base")
        db.session.remove()
        db.engine.dispose()
