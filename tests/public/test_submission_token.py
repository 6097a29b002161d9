"""A request sent again with its submission token is filed once and answered with the same
receipt (a defender on Tor or a mobile network whose first answer was lost presses Send again).

The server keeps neither the token nor the receipt code: an HMAC of the token finds the row,
and the code is encrypted under a key derived from the token."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, Case, SealedBy, SubmissionToken, Urgency
from intake.services import audit, retention, submissions
from intake.services.audit import verify_chain
from intake.services.triage import Routing
from tests import services
from tests.builders import OrgKeyPair, make_org_key
from tests.conftest import TEST_SECRET, table_count
from tests.public.conftest import (
    MALFORMED_TOKENS,
    csrf_token,
    database_text,
    full_answers,
    routing_form,
)

MANY = {"REQUEST_RATE_LIMIT": "1000 per hour", "STATUS_RATE_LIMIT": "1000/hour"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def roomy_any_app(request: pytest.FixtureRequest, make_app: Any) -> Any:
    app = make_app(request.param, **MANY)
    with app.app_context():
        yield app


def _sealed_answers(org: OrgKeyPair) -> str:
    return crypto.b64(crypto.seal(crypto.pad(json.dumps(full_answers()).encode()), org.public))


def _browser_form(org: OrgKeyPair, csrf: str, token: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": csrf,
        "sealed_answers": _sealed_answers(org),  # sealed again on every attempt, as intake.js
        "org_key_id": str(org.key.id),
        "urgency": "days",
        "threats": ["detention"],
        "profiles": ["journalist"],
        "country": "HK",
        "languages": ["zh"],
        "consent_given": "1",
        "website": "",
    }
    if token is not None:
        form["submission_token"] = token
    return form


def _send(app: Flask, org: OrgKeyPair, token: Any) -> Any:
    """One attempt from a fresh browser session (a retry fetches a fresh CSRF token too)."""
    client = app.test_client()
    return client.post(
        "/request",
        data=_browser_form(org, csrf_token(client), token),
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )


def _counts() -> tuple[int, int, int]:
    db.session.rollback()
    return table_count("cases"), table_count("submission_tokens"), table_count("audit_events")


def test_a_retry_with_the_same_token_files_nothing_and_answers_the_same_receipt(
    roomy_any_app: Flask,
) -> None:
    org = make_org_key()
    token = crypto.new_submission_token()

    first = _send(roomy_any_app, org, token)
    stored = _counts()
    again = _send(roomy_any_app, org, token)
    third = _send(roomy_any_app, org, token)

    assert (first.status_code, again.status_code, third.status_code) == (201, 201, 201)
    assert again.get_json() == first.get_json() == third.get_json()
    assert stored == (1, 1, stored[2])
    assert _counts() == stored  # no case, token row or audit event more
    code = first.get_json()["receipt_code"]
    assert submissions.find_case_by_receipt(code) is not None


def test_a_reference_drawn_again_keeps_the_token_claimed_once(
    any_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case's reference clashes after the token was claimed (on PostgreSQL by the same
    statement): the next reference is drawn without claiming again, and a retry with the
    token finds the case filed under the second reference."""
    org = make_org_key()
    routing = Routing(urgency=Urgency.DAYS, consent_given=True)

    def submit(token: bytes) -> submissions.Submission:
        return submissions.create_case(
            routing,
            org_key=org.key,
            sealed_answers=_sealed_answers(org),
            sealed_files=[],
            sealed_by=SealedBy.BROWSER,
            locale="en",
            submission_token=token,
        )

    taken = submit(crypto.submission_token_bytes(crypto.new_submission_token()) or b"").case.ref
    drawn = submissions.new_case_ref
    draws = iter([taken, "RF-ZZZZZZZZ"])
    monkeypatch.setattr(submissions, "new_case_ref", lambda: next(draws, None) or drawn())
    token = crypto.submission_token_bytes(crypto.new_submission_token()) or b""
    first = submit(token)
    assert first.case.ref == "RF-ZZZZZZZZ"
    again = submit(token)
    assert (again.repeated, again.case_id, again.receipt_code) == (
        True,
        first.case_id,
        first.receipt_code,
    )
    assert _counts()[:2] == (2, 2)
    assert verify_chain().ok


def test_other_tokens_or_none_file_separate_requests(roomy_any_app: Flask) -> None:
    org = make_org_key()
    codes = {
        _send(roomy_any_app, org, token).get_json()["receipt_code"]
        for token in (crypto.new_submission_token(), crypto.new_submission_token(), None, None)
    }
    assert len(codes) == 4
    assert _counts()[:2] == (4, 2)


def test_neither_the_token_nor_the_receipt_code_is_stored(
    roomy_any_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    org = make_org_key()
    token = crypto.new_submission_token()
    code = _send(roomy_any_app, org, token).get_json()["receipt_code"]
    _send(roomy_any_app, org, token)

    raw = crypto.submission_token_bytes(token)
    assert raw is not None
    normalised = crypto.normalise_receipt_code(code)
    assert normalised is not None
    stored = database_text(roomy_any_app)
    for secret in (token, raw.hex(), code, normalised, crypto.b64(raw)):
        assert secret not in stored
        assert secret not in caplog.text
    assert repr(raw) not in stored
    row = db.session.scalars(sa.select(SubmissionToken)).one()
    assert row.lookup == crypto.submission_token_lookup(raw, TEST_SECRET)
    assert row.sealed_receipt is not None
    assert crypto.open_receipt_for_token(row.sealed_receipt, raw) == code
    with pytest.raises(crypto.InvalidCiphertext):
        crypto.open_receipt_for_token(row.sealed_receipt, bytes(32))


@pytest.mark.parametrize("kind", MALFORMED_TOKENS)
def test_a_malformed_token_is_a_clear_400_and_nothing_is_stored(
    roomy_any_app: Flask, kind: str
) -> None:
    org = make_org_key()
    response = _send(roomy_any_app, org, MALFORMED_TOKENS[kind])
    assert response.status_code == 400
    assert "submission token is not valid" in response.get_json()["error"]
    assert _counts() == (0, 0, 0)


def test_the_no_js_form_posted_twice_redirects_to_the_same_receipt(
    roomy_any_app: Flask,
) -> None:
    make_org_key()
    client = roomy_any_app.test_client()
    page = client.get("/request").text
    token = re.search(r'name="submission_token" value="([^"]+)"', page)
    assert token is not None
    assert crypto.submission_token_bytes(token.group(1)) is not None
    form = {
        "csrf_token": csrf_token(client),
        "submission_token": token.group(1),
        **full_answers(),
        **routing_form(),
    }

    receipts = []
    for _attempt in range(2):  # the answer lost, or Back and Send again
        response = client.post("/request", data=form, content_type="multipart/form-data")
        assert response.status_code == 303
        shown = client.get(response.headers["Location"]).text
        code = re.search(r'id="receipt-code"[^>]*>\s*([0-9A-Z-]+)\s*<', shown)
        assert code is not None
        receipts.append(code.group(1))

    assert receipts[0] == receipts[1]
    assert _counts()[:2] == (1, 1)
    case = submissions.find_case_by_receipt(receipts[0])
    assert case is not None
    assert case.sealed_by.value == "server"


def test_other_answers_with_the_token_of_a_request_sent_before_are_a_new_request(
    roomy_any_app: Flask,
) -> None:
    """After a request sent without JavaScript, /request in that browser carries its token
    (Back, then Send, files it once). Someone else at the same computer, or the same person's
    next request, sends other answers with it: filed as its own request with its own code,
    never answered with the first request's receipt."""
    make_org_key()
    client = roomy_any_app.test_client()

    def send(what_happened: str) -> str:
        return _post_no_js(client, _token_on(client.get("/request").text), what_happened)

    first = send("Detained at the border on Monday.")
    # The form carries the token, unsaid: a GET cannot tell Back from a new visit.
    assert 'id="sent-before"' not in client.get("/request").text
    assert send("Detained at the border on Monday.") == first  # Back, then Send
    other = send("My brother's office was raided tonight.")
    assert other != first
    assert _counts()[:2] == (2, 2)
    assert send("My brother's office was raided tonight.") == other  # and that one is kept
    assert 'id="sent-before"' not in client.get("/request?new=1").text
    assert _counts()[:2] == (2, 2)


def test_half_an_hour_after_a_no_js_request_the_browser_no_longer_gives_its_receipt_back(
    roomy_any_app: Flask,
) -> None:
    """Back, then Send, comes within minutes. Whoever used the computer later, with the
    answers the browser's Back put back, got the first request's receipt code (its replies,
    its consent) for as long as the session lived (a new-organisation review)."""
    from intake.public import routes

    make_org_key()
    client = roomy_any_app.test_client()

    def send() -> str:
        return _post_no_js(client, _token_on(client.get("/request").text))

    first = send()
    assert send() == first  # at once: the same receipt, nothing filed twice
    with client.session_transaction() as session:
        sent = dict(session[routes.SENT_REQUEST])
        sent["at"] -= routes.SENT_REQUEST_KEPT_SECONDS + 1
        session[routes.SENT_REQUEST] = sent
    assert 'id="sent-before"' not in client.get("/request").text
    assert send() != first  # a request of its own, with a code of its own
    assert _counts()[:2] == (2, 2)


def test_the_token_of_a_no_js_request_gives_nothing_to_the_browser_path(
    roomy_any_app: Flask,
) -> None:
    """The token of a request sent without JavaScript is in the next /request page of that
    browser. Posted to the browser path with any ciphertext (which cannot be compared with the
    first request's answers), it answered with the first request's receipt code: whoever used
    the computer next could read the staff's replies at /status and write as the defender (a
    security review). It is a new token there: a request of its own, with its own code."""
    org = make_org_key()
    client = roomy_any_app.test_client()
    pattern = re.compile(r'name="submission_token" value="([^"]+)"')
    (token,) = pattern.findall(client.get("/request").text)
    form = {"csrf_token": csrf_token(client), "submission_token": token}
    response = client.post(
        "/request",
        data={**form, **full_answers(), **routing_form()},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    shown = client.get(response.headers["Location"]).text
    first = re.search(r'id="receipt-code"[^>]*>\s*([0-9A-Z-]+)\s*<', shown)
    assert first is not None
    (written_again,) = pattern.findall(client.get("/request").text)
    assert written_again == token  # what the next person at this computer can read

    taken = _send(roomy_any_app, org, token)
    assert taken.status_code == 201
    assert taken.get_json()["receipt_code"] != first.group(1)
    assert first.group(1) not in taken.get_data(as_text=True)
    assert _counts()[:2] == (2, 2)


def test_back_past_a_refused_first_send_then_send_shows_the_same_receipt(
    roomy_any_app: Flask,
) -> None:
    """Without JavaScript: Send refused (a question missed), answered, sent; the receipt
    reloaded tells the person to go Back and Send again. Back lands on the refused post, which
    the browser posts again: that form came back with a new token, and answered as before it
    was filed a second time under a second code (a review in Chromium, es and ru)."""
    make_org_key()
    client = roomy_any_app.test_client()
    (token,) = re.findall(r'name="submission_token" value="([^"]+)"', client.get("/request").text)
    answered = {
        "csrf_token": csrf_token(client),
        "submission_token": token,
        **full_answers(),
        **routing_form(),
    }
    missed = {name: value for name, value in answered.items() if name != "urgency"}

    def send(form: dict[str, str]) -> Any:
        return client.post("/request", data=form, content_type="multipart/form-data")

    def receipt_of(response: Any) -> str:
        assert response.status_code == 303
        shown = client.get(response.headers["Location"]).text
        code = re.search(r'id="receipt-code"[^>]*>\s*([0-9A-Z-]+)\s*<', shown)
        assert code is not None
        return code.group(1)

    assert send(missed).status_code == 422
    first = receipt_of(send(answered))
    again = send(missed)  # Back: the refused post, posted again
    assert again.status_code == 422
    assert f'name="submission_token" value="{token}"' in again.text
    # Not the answers sent (one is missing): no "you would see the same receipt" here, which
    # is for those answers only (the receipt page told this person to answer as before).
    assert 'id="sent-before"' not in again.text
    assert receipt_of(send(answered)) == first
    assert _counts()[:2] == (1, 1)


def _no_js_receipt(client: Any, response: Any) -> str:
    assert response.status_code == 303, response.text
    shown = client.get(response.headers["Location"]).text
    code = re.search(r'id="receipt-code"[^>]*>\s*([0-9A-Z-]+)\s*<', shown)
    assert code is not None
    return code.group(1)


def _sent_without_js(client: Any) -> tuple[dict[str, Any], str]:
    """A request sent without JavaScript from this client: what it said, and its receipt."""
    (token,) = re.findall(r'name="submission_token" value="([^"]+)"', client.get("/request").text)
    answers = {
        "csrf_token": csrf_token(client),
        "submission_token": token,
        **full_answers(),
        **routing_form(),
    }
    sent = client.post("/request", data=answers, content_type="multipart/form-data")
    return answers, _no_js_receipt(client, sent)


def test_a_refused_form_with_other_answers_is_not_told_it_would_see_the_same_receipt(
    roomy_any_app: Flask,
) -> None:
    """Someone else at a shared computer, after a request sent from it without JavaScript:
    the next /request page carries that request's token, and their own answers, refused for
    a question missed, said "you would see the same receipt". Sent, they are filed as a new
    request with a code of their own (the server compares the answers): so is the notice."""
    make_org_key()
    client = roomy_any_app.test_client()
    answers, first = _sent_without_js(client)
    (carried,) = re.findall(r'name="submission_token" value="([^"]+)"', client.get("/request").text)
    assert carried == answers["submission_token"]
    theirs = {
        **answers,
        "csrf_token": csrf_token(client),
        "what_happened": "Our newspaper's office was searched tonight.",
        "sender_name": "Someone else",
    }
    missed = {name: value for name, value in theirs.items() if name != "consent"}

    refused = client.post("/request", data=missed, content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "Our newspaper" in refused.text  # their answers, shown again to mend
    assert 'id="sent-before"' not in refused.text
    assert "you would see the same receipt" not in refused.text

    second = _no_js_receipt(
        client, client.post("/request", data=theirs, content_type="multipart/form-data")
    )
    assert second != first
    assert _counts()[:2] == (2, 2)


def test_a_refused_form_with_the_answers_sent_says_it_would_see_the_same_receipt(
    roomy_any_app: Flask,
) -> None:
    """The answers sent, posted again with their token and refused (here for an empty file,
    which is no answer): the notice stands, and sent without that file they are the same
    request, with the same receipt and nothing filed twice."""
    make_org_key()
    client = roomy_any_app.test_client()
    answers, first = _sent_without_js(client)
    with_empty_file = {
        **answers,
        "attachments": [(io.BytesIO(b""), "empty.pdf", "application/pdf")],
    }

    refused = client.post("/request", data=with_empty_file, content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "empty (0 bytes)" in refused.text
    assert 'id="sent-before"' in refused.text
    assert "you would see the same receipt" in refused.text

    again = client.post("/request", data=answers, content_type="multipart/form-data")
    assert _no_js_receipt(client, again) == first
    assert _counts()[:2] == (1, 1)


def test_every_no_js_form_has_its_own_token_and_a_form_shown_again_keeps_it(
    roomy_any_app: Flask,
) -> None:
    make_org_key()
    client = roomy_any_app.test_client()
    pattern = re.compile(r'name="submission_token" value="([^"]+)"')
    first = pattern.findall(client.get("/request").text)
    elsewhere = pattern.findall(roomy_any_app.test_client().get("/request").text)
    assert len(first) == len(elsewhere) == 1
    assert first != elsewhere  # another browser
    assert pattern.findall(client.get("/request").text) == first  # this one, shown again
    started = pattern.findall(client.get("/request?new=1").text)
    assert started != first  # "Start a new request"
    first = pattern.findall(client.get("/request").text)
    assert first == started
    data = {"csrf_token": csrf_token(client), "submission_token": first[0], **routing_form()}
    again = client.post("/request", data=data, content_type="multipart/form-data")
    assert again.status_code == 422  # required answers missing: shown again, nothing filed
    assert pattern.findall(again.text) == first


def _token_on(page: str) -> str:
    (token,) = re.findall(r'name="submission_token" value="([^"]+)"', page)
    return token


def _post_no_js(client: Any, token: str, what_happened: str | None = None) -> str:
    """A no-JS Send (every answer, ``what_happened`` if given); the receipt code it was
    answered with."""
    form = {
        "csrf_token": csrf_token(client),
        "submission_token": token,
        **full_answers(),
        **routing_form(),
    }
    if what_happened is not None:
        form["what_happened"] = what_happened
    response = client.post("/request", data=form, content_type="multipart/form-data")
    assert response.status_code == 303
    return _no_js_receipt(client, response)


def test_a_no_js_send_whose_answer_was_lost_then_back_and_send_files_it_once(
    roomy_any_app: Flask,
) -> None:
    """The 303 and its cookie, which told this browser the request was sent, never arrive (a
    slow link cut). Back fetches the form again (no-store) and the browser puts the answers
    back: that page had a new token, and Send filed the request a second time, under a second
    code (a slow-link review). It carries the token it was shown with now."""
    make_org_key()
    client = roomy_any_app.test_client()
    token = _token_on(client.get("/request").text)
    cookie = client.get_cookie(roomy_any_app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    first = _post_no_js(client, token, "Detained at the border on Monday.")
    # The answer lost: the browser still holds the cookie it had before Send.
    client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    again = _token_on(client.get("/request").text)
    assert again == token
    assert _post_no_js(client, again, "Detained at the border on Monday.") == first
    assert _counts()[:2] == (1, 1)
    # Other answers with that token, from that cookie (the same computer, the next person):
    # a request of their own, with a code of their own.
    client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    other = _post_no_js(client, _token_on(client.get("/request").text), "A raid tonight.")
    assert other != first
    assert _counts()[:2] == (2, 2)


def test_a_no_js_form_left_for_half_an_hour_gets_a_token_of_its_own(
    roomy_any_app: Flask,
) -> None:
    """The form shown again keeps its token for SENT_REQUEST_KEPT_SECONDS after it was last
    shown; after that, whoever uses the computer is given a new one."""
    from intake.public import routes

    make_org_key()
    client = roomy_any_app.test_client()
    token = _token_on(client.get("/request").text)
    with client.session_transaction() as session:
        pending = dict(session[routes.PENDING_REQUEST])
        pending["at"] -= routes.SENT_REQUEST_KEPT_SECONDS - 60
        session[routes.PENDING_REQUEST] = pending
    assert _token_on(client.get("/request").text) == token  # within: and it starts again
    with client.session_transaction() as session:
        assert session[routes.PENDING_REQUEST]["at"] >= pending["at"] + 60
        pending = dict(session[routes.PENDING_REQUEST])
        pending["at"] -= routes.SENT_REQUEST_KEPT_SECONDS + 1
        session[routes.PENDING_REQUEST] = pending
    assert _token_on(client.get("/request").text) != token


def test_a_malformed_token_on_the_no_js_path_is_a_clear_400(roomy_any_app: Flask) -> None:
    make_org_key()
    client = roomy_any_app.test_client()
    form = {
        "csrf_token": csrf_token(client),
        "submission_token": "not-a-token",
        **full_answers(),
        **routing_form(),
    }
    response = client.post("/request", data=form, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "submission token is not valid" in response.text
    assert _counts() == (0, 0, 0)


def test_the_retention_job_forgets_tokens_after_a_day(any_app: Flask) -> None:
    now = utcnow()
    for age in (timedelta(hours=25), timedelta(hours=23)):
        db.session.add(
            SubmissionToken(lookup=f"{age.seconds:064d}", sealed_receipt="x", created_at=now - age)
        )
    db.session.commit()

    retention.nightly(now)

    left = db.session.scalars(sa.select(SubmissionToken.created_at)).all()
    assert left == [now - timedelta(hours=23)]


def test_a_token_of_a_deleted_case_is_refused_not_filed_again(roomy_any_app: Flask) -> None:
    org = make_org_key()
    token = crypto.new_submission_token()
    code = _send(roomy_any_app, org, token).get_json()["receipt_code"]
    case = submissions.find_case_by_receipt(code)
    assert case is not None
    db.session.delete(case)
    db.session.commit()

    response = _send(roomy_any_app, org, token)

    assert response.status_code == 400
    assert "no longer open" in response.get_json()["error"]
    assert _counts()[:2] == (0, 1)


@pytest.mark.postgres
def test_concurrent_attempts_with_one_token_file_one_case_on_postgresql(make_app: Any) -> None:
    """Eight threads post the same token at once; each holds its transaction open a moment
    after claiming (the audit step, which comes after the claim, is slowed), so the others
    really wait on its row."""
    app = make_app("postgres", SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10}, **MANY)
    with app.app_context():
        org = make_org_key()
        token = crypto.new_submission_token()
        clients = [app.test_client() for _ in range(8)]
        forms = [_browser_form(org, csrf_token(client), token) for client in clients]
        db.session.remove()

    record_all = audit.record_all

    def audit_taking_its_time(*args: Any, **kwargs: Any) -> None:
        import time

        time.sleep(0.2)
        record_all(*args, **kwargs)

    start = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def attempt(index: int) -> None:
        start.wait()
        response = clients[index].post(
            "/request",
            data=forms[index],
            content_type="multipart/form-data",
            headers={"Accept": "application/json"},
        )
        answers[index] = (response.status_code, response.get_json())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit, "record_all", audit_taking_its_time)
        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(clients))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert {status for status, _body in answers} == {201}
    assert len({body["receipt_code"] for _status, body in answers}) == 1
    with app.app_context():
        assert table_count("cases") == 1
        assert table_count("submission_tokens") == 1
        submitted = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "case.submitted")
        ).all()
        assert len(submitted) == 1
        assert submitted[0].target_id == str(db.session.scalar(sa.select(Case.id)))


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_migration_adds_the_token_table_and_takes_it_away(
    unmigrated_app: Callable[[str], Flask], backend: str
) -> None:
    app = unmigrated_app(backend)
    with app.app_context():
        services.empty_database()
        upgrade(revision="0023")
        assert "submission_tokens" not in sa.inspect(db.engine).get_table_names()
        upgrade()
        inspector = sa.inspect(db.engine)
        assert inspector.get_pk_constraint("submission_tokens")["constrained_columns"] == ["lookup"]
        assert [ix["column_names"] for ix in inspector.get_indexes("submission_tokens")] == [
            ["created_at"]
        ]
        db.session.add(SubmissionToken(lookup="a" * 64, sealed_receipt="x", created_at=utcnow()))
        db.session.commit()
        downgrade(revision="0023")
        assert "submission_tokens" not in sa.inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()
