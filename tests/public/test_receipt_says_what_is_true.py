"""What the receipt and the status page say to the defender, over HTTP (JavaScript off):

- "… and can withdraw your consent" only for a request that gave consent; /status then lists
  it, and lists none for a request without.
- /request opened again after a request sent from this browser is a fresh form: no "you sent
  a request a moment ago" (a GET cannot tell Back from a new visit). The same answers sent
  again (Back, then Send) are filed once, and that receipt says so.
- The status page shows the receipt code again, to the browser that sent the request, for
  SENT_REQUEST_KEPT_SECONDS; never to another browser, never in an address, never in the
  session cookie itself.
"""

from __future__ import annotations

import html
import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.public import routes
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import (
    CANARY,
    csrf_token,
    full_answers,
    routing_form,
)

WITHDRAW = "the messages you send us after this request, and can withdraw your consent."
WITHOUT = "the messages you send us after this request. Do not keep it"
NOW = object()  # in a parameter: the time of the test
CODE_SHOWN = re.compile(r'id="receipt-code">([0-9A-Z-]+)<')
STATUS_CODE_SHOWN = re.compile(r'id="status-receipt-code">([0-9A-Z-]+)<')
TOKEN = re.compile(r'name="submission_token" value="([^"]+)"')
# The consent answers, and whether the request records consent (to share, and to act on it).
CONSENT_ANSWERS = {
    "both yes": ({"consent": "yes", "referral_consent": "yes"}, True),
    "some agreed": ({"consent": "some", "referral_consent": "yes"}, False),
    "ask me first": ({"consent": "yes", "referral_consent": "ask"}, False),
    "no": ({"consent": "no", "referral_consent": "no"}, False),
}


def _answers(client: FlaskClient, **changed: str) -> dict[str, Any]:
    (token,) = TOKEN.findall(client.get("/request").text)
    return {
        "csrf_token": csrf_token(client),
        "submission_token": token,
        **full_answers(),
        **routing_form(),
        **changed,
    }


def _send(client: FlaskClient, form: dict[str, Any]) -> tuple[str, str]:
    """The receipt code and page of a request sent without JavaScript."""
    sent = client.post("/request", data=form, content_type="multipart/form-data")
    assert sent.status_code == 303, sent.text
    assert CANARY not in sent.headers["Location"]
    page = client.get(sent.headers["Location"]).text
    code = CODE_SHOWN.search(page)
    assert code is not None
    return code.group(1), page


def _language_form(page: str) -> dict[str, list[str]]:
    form = re.search(r'<form[^>]*id="receipt-language".*?</form>', page, re.S)
    assert form is not None
    fields: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form.group(0)):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value:
            fields.setdefault(name.group(1), []).append(html.unescape(value.group(1)))
    return fields


def _status(client: FlaskClient, code: str) -> Any:
    return client.post("/status", data={"csrf_token": csrf_token(client, "/status"), "code": code})


# ---------------------------------------------------------------------------------------------
# 1. Consent to withdraw, only when there is one


@pytest.mark.parametrize("answers", CONSENT_ANSWERS.values(), ids=CONSENT_ANSWERS.keys())
def test_the_receipt_says_the_code_can_withdraw_consent_only_when_there_is_one(
    roomy_app: Flask, answers: tuple[dict[str, str], bool]
) -> None:
    chosen, consented = answers
    make_org_key()
    client = roomy_app.test_client()
    code, receipt = _send(client, _answers(client, **chosen))
    assert (WITHDRAW in receipt) is consented
    assert (WITHOUT in receipt) is not consented
    # The receipt in another language (its language buttons post the code back) says the same.
    fields = _language_form(receipt)
    assert fields["consent"] == ["1" if consented else "0"]
    spanish = client.post("/request/receipt?lang=es", data=fields)
    assert spanish.status_code == 200
    assert f'id="receipt-code">{code}<' in spanish.text
    assert ("y puede retirar su consentimiento" in spanish.text) is consented
    assert "que nos envíe después de esta solicitud. No lo guarde" in spanish.text or consented
    # And the status page lists a consent to withdraw exactly when the receipt said so.
    status = _status(client, code)
    assert status.status_code == 200
    assert ('id="status-consent"' in status.text) is consented


def test_a_receipt_page_from_before_the_consent_field_does_not_promise_a_withdrawal(
    roomy_app: Flask,
) -> None:
    """A receipt left open over a deploy posts no consent field: said without the promise."""
    make_org_key()
    client = roomy_app.test_client()
    code, receipt = _send(client, _answers(client))
    fields = _language_form(receipt)
    del fields["consent"]
    shown = client.post("/request/receipt?lang=en", data=fields)
    assert shown.status_code == 200
    assert WITHOUT in shown.text
    assert WITHDRAW not in shown.text


@pytest.mark.parametrize(
    "consent",
    ["yes", "2", "", "1 ", "<script>alert(1)</script>", ["1", "1"], ["0", "1"]],
    ids=["word", "number", "empty", "spaced", "markup", "twice", "both"],
)
def test_a_hostile_consent_on_the_receipt_language_form_is_refused_clearly(
    roomy_app: Flask, consent: Any
) -> None:
    make_org_key()
    client = roomy_app.test_client()
    code, receipt = _send(client, _answers(client))
    fields = {**_language_form(receipt), "consent": consent}
    response = client.post("/request/receipt?lang=en", data=fields)
    assert response.status_code == 400
    assert "could not be understood. Nothing was saved." in response.text
    assert code not in response.text
    assert "<script>alert" not in response.text
    assert table_count("cases") == 1


# ---------------------------------------------------------------------------------------------
# 2. "You sent this before": only to the same answers sent again


def test_a_new_visit_to_the_form_after_a_no_js_request_is_not_told_it_sent_one(
    roomy_app: Flask,
) -> None:
    make_org_key()
    client = roomy_app.test_client()
    first_form = _answers(client)
    first, receipt = _send(client, first_form)
    assert 'id="receipt-sent-again"' not in receipt

    fresh = client.get("/request")
    assert fresh.status_code == 200
    assert 'id="sent-before"' not in fresh.text
    assert "You sent a request from this browser a moment ago" not in fresh.text
    # It still carries the token of the request sent: the same answers (Back, then Send)
    # are filed once, and that receipt says nothing was filed twice.
    assert TOKEN.findall(fresh.text) == [first_form["submission_token"]]
    again, receipt = _send(client, {**first_form, "csrf_token": csrf_token(client)})
    assert again == first
    assert 'id="receipt-sent-again"' in receipt
    assert "was not sent again: this is its receipt" in receipt
    assert table_count("cases") == 1
    # Other answers with that token are a request of their own, with a first receipt.
    other, receipt = _send(client, _answers(client, what_happened="Raided this morning."))
    assert other != first
    assert 'id="receipt-sent-again"' not in receipt
    assert table_count("cases") == 2


# ---------------------------------------------------------------------------------------------
# 6. The receipt code again at /status, for the browser that sent it, for a while


def test_the_status_page_shows_the_code_again_only_to_the_browser_that_sent_it(
    roomy_app: Flask,
) -> None:
    make_org_key()
    client = roomy_app.test_client()
    code, _receipt = _send(client, _answers(client))

    # Typed as people type it: shown as the receipt wrote it.
    status = _status(client, code.lower().replace("-", " "))
    assert status.status_code == 200
    assert STATUS_CODE_SHOWN.findall(status.text) == [code]
    assert "Shown here only in this browser" in status.text
    assert CANARY not in status.text

    # Another browser with the code (it typed it) is not shown it again.
    other = roomy_app.test_client()
    elsewhere = _status(other, code)
    assert elsewhere.status_code == 200
    assert 'id="status-receipt"' not in elsewhere.text

    # The cookie holds no code: a keyed digest, and when.
    cookie = client.get_cookie(roomy_app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    serializer = roomy_app.session_interface.get_signing_serializer(roomy_app)  # type: ignore[attr-defined]
    kept = serializer.loads(cookie.value)
    normalised = crypto.normalise_receipt_code(code)
    assert normalised is not None
    assert normalised not in str(kept)
    assert code not in str(kept)
    assert set(kept[routes.SENT_RECEIPT]) == {"digest", "at"}

    # After SENT_REQUEST_KEPT_SECONDS it is forgotten.
    with client.session_transaction() as session:
        sent = dict(session[routes.SENT_RECEIPT])
        sent["at"] -= routes.SENT_REQUEST_KEPT_SECONDS + 1
        session[routes.SENT_RECEIPT] = sent
    later = _status(client, code)
    assert later.status_code == 200
    assert 'id="status-receipt"' not in later.text
    with client.session_transaction() as session:
        assert routes.SENT_RECEIPT not in session


def test_a_request_sent_by_the_browser_path_gets_its_code_again_at_status(
    roomy_app: Flask,
) -> None:
    org = make_org_key()
    client = roomy_app.test_client()
    key = client.get("/request/key").get_json()
    sent = client.post(
        "/request",
        data={
            "csrf_token": key["csrf_token"],
            "sealed_answers": crypto.seal_answers(full_answers(), org.public),
            "org_key_id": str(org.key.id),
            "urgency": "days",
            "consent_given": "0",
        },
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 201, sent.text
    code = sent.get_json()["receipt_code"]
    assert STATUS_CODE_SHOWN.findall(_status(client, code).text) == [code]
    # Another request's code (this browser did not send it) is not shown.
    elsewhere = roomy_app.test_client()
    other, _page = _send(elsewhere, _answers(elsewhere))
    assert 'id="status-receipt"' not in _status(client, other).text


@pytest.mark.parametrize(
    "kept",
    [
        "a string",
        {"digest": 5, "at": NOW},
        {"digest": "00", "at": "now"},
        {"at": NOW},
        {"digest": "x" * 64, "at": 10**12},
        {"digest": "é" * 64, "at": NOW},
        {"digest": "x" * 64, "at": NOW},
    ],
    ids=[
        "not a dict",
        "digest not text",
        "time not a number",
        "no digest",
        "future",
        "not ascii",
        "another code's",
    ],
)
def test_a_malformed_sent_receipt_in_the_session_shows_nothing(roomy_app: Flask, kept: Any) -> None:
    make_org_key()
    client = roomy_app.test_client()
    code, _receipt = _send(client, _answers(client))
    if isinstance(kept, dict) and kept.get("at") is NOW:
        kept = {**kept, "at": int(time.time())}
    with client.session_transaction() as session:
        session[routes.SENT_RECEIPT] = kept
    status = _status(client, code)
    assert status.status_code == 200
    assert 'id="status-receipt"' not in status.text


def test_a_follow_up_sent_from_the_status_page_keeps_showing_the_code(roomy_app: Flask) -> None:
    """The page after a follow-up (no JavaScript) is the status page again: the same browser,
    within the window, still sees its code."""
    make_org_key()
    client = roomy_app.test_client()
    code, _receipt = _send(client, _answers(client))
    status = _status(client, code)
    (token,) = TOKEN.findall(status.text)
    sent = client.post(
        "/status/follow-up",
        data={
            "csrf_token": csrf_token(client, "/status"),
            "code": code,
            "body": "More.",
            "submission_token": token,
        },  # fmt: skip
        content_type="multipart/form-data",
    )
    assert sent.status_code == 200
    assert STATUS_CODE_SHOWN.findall(sent.text) == [code]
    assert 'id="follow-up-sent"' in sent.text
