"""Helpers for the public intake tests: a canary in every free-text answer, store searches."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.extensions import db
from intake.models import CaseMessage, MessageKind, Urgency
from intake.public.forms import SEALED_FIELDS
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import OrgKeyPair

CANARY = "QZXcanary金絲雀QZX"
CHOICE_ANSWERS = {
    "sender_role": "self",
    "safe_to_contact": "unsure",
    "consent": "yes",
    "referral_consent": "yes",
}
FREE_TEXT_FIELDS = tuple(name for name in SEALED_FIELDS if name not in CHOICE_ANSWERS)
PHOTO_NAME = f"photo-{CANARY}.png"
PHOTO_BYTES = b"\x89PNG\r\n\x1a\n" + f"evidence {CANARY} pixels".encode() + bytes(range(256))


# A phone in real Chromium, in a public language (its browser locale).
PHONE = {"width": 360, "height": 740}
BROWSER_LOCALES = {"en": "en-GB", "zh_Hant": "zh-TW", "ar": "ar-EG"}


def phone_context(browser: Any, javascript: bool, locale: str = "en") -> Any:
    return browser.new_context(
        viewport=PHONE, java_script_enabled=javascript, locale=BROWSER_LOCALES[locale]
    )


def summary_links(page: Any) -> list[str | None]:
    """Where each line of the error summary leads (#field ids)."""
    return [link.get_attribute("href") for link in page.locator("#error-summary a").all()]


def fill_required_answers(
    page: Any, what_happened: str | None = "Arrêté au poste de contrôle, téléphone saisi."
) -> None:
    """What happened (unless already typed: None), how urgent and consent, step by step; the
    page left on the review, with Send on screen."""
    if what_happened is not None:
        page.fill("#what_happened", what_happened)
    page.check("input[name=urgency][value=days]")
    page.click("#step-next")
    page.check("input[name=consent][value=yes]")
    page.check("input[name=referral_consent][value=yes]")
    page.click("#step-next")
    page.click("#step-skip")
    page.click("#step-skip")
    page.wait_for_selector("#send-request:visible")


def canary_for(field: str) -> str:
    return f"{CANARY}-{field}"


def full_answers() -> dict[str, str]:
    answers = {name: canary_for(name) for name in FREE_TEXT_FIELDS}
    answers.update(CHOICE_ANSWERS)
    return answers


def routing_form() -> dict[str, Any]:
    return {
        "urgency": "immediate",
        "threats": ["detention", "reprisal"],
        "profiles": ["lawyer"],
        "country": "TW",
        "languages": ["zh", "en"],
    }


# Submission tokens that are not one (crypto.submission_token_bytes): each must be a clear 400
# with nothing written, on a request and on a follow-up alike.
_VALID_TOKEN = crypto.new_submission_token()
MALFORMED_TOKENS: dict[str, Any] = {
    "empty": "",
    "too short": _VALID_TOKEN[:-1],
    "too long": _VALID_TOKEN + "A",
    "padded": _VALID_TOKEN + "=",
    "standard base64 alphabet": "+" + _VALID_TOKEN[1:],
    "not base64 at all": "é" * 43,
    "spaces": " " + _VALID_TOKEN[1:],
    "unused bits set (another spelling)": (
        _VALID_TOKEN[:-1] + ("B" if _VALID_TOKEN[-1] != "B" else "C")
    ),
    "oversized": "A" * 100_000,
    "repeated field": [_VALID_TOKEN, _VALID_TOKEN],
    "two different": [_VALID_TOKEN, crypto.new_submission_token()],
}


# How a browser posts a sealed file (intake.public.routes._sealed_uploads): the raw ciphertext
# as a binary part whose file name is "sealed" (submitter.js), or, from a page loaded before
# that (open in a tab over a deploy), the ciphertext in base64 in a part named "sealed.bin".
WIRES = ("raw", "base64")
SealedPart = tuple[io.BytesIO, str, str]


def sealed_part(ciphertext: bytes, wire: str = "raw") -> SealedPart:
    """One sealed file's part, as ``wire`` sends it."""
    if wire == "raw":
        return (io.BytesIO(ciphertext), "sealed", "application/octet-stream")
    assert wire == "base64", wire
    encoded = crypto.b64(ciphertext).encode()
    return (io.BytesIO(encoded), "sealed.bin", "application/octet-stream")


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/request") -> str:
    response = client.get(path)
    match = CSRF_INPUT.search(response.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def database_text(app: Flask) -> str:
    """Every row of every table as text (PostgreSQL and SQLite alike)."""
    chunks: list[str] = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)):
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    hits: list[str] = []
    for path in root.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            hits.extend(f"{path}: {needle!r}" for needle in needles if needle in content)
    return hits


def canary_needles() -> list[bytes]:
    """The canary as UTF-8, and its ASCII part (for escaped JSON, where 金絲雀 is \\uXXXX)."""
    return [CANARY.encode(), b"QZXcanary", PHOTO_BYTES[8:30]]


@pytest.fixture
def roomy_app(make_app: Any) -> Iterator[Flask]:
    """SQLite app whose POST limits are out of the way (tests that post many times)."""
    app = make_app(
        "sqlite",
        REQUEST_RATE_LIMIT="1000 per hour",
        STATUS_RATE_LIMIT="1000/hour",
        FOLLOW_UP_RATE_LIMIT="1000/hour",
    )
    with app.app_context():
        yield app


def send_sealed_follow_up(
    app: Flask, org: OrgKeyPair, code: str, text: str, token: str | None
) -> Any:
    """One follow-up as status.js sends it, from a fresh session (a retry fetches a fresh key
    and CSRF token too, and seals the message again), with its submission token if any."""
    client = app.test_client()
    key = client.get("/request/key").get_json()
    form: dict[str, Any] = {
        "code": code,
        "org_key_id": str(org.key.id),
        "sealed_body": crypto.seal_answers({"body": text}, org.public),
    }
    if token is not None:
        form["submission_token"] = token
    return client.post(
        "/status/follow-up",
        data=form,
        headers={"Accept": "application/json", "X-CSRFToken": key["csrf_token"]},
        content_type="multipart/form-data",
    )


def asks_for_files_again(page: str, words: str = "Please attach your files again.") -> bool:
    """Whether a form shown again asks for its files beside the file field, and from the error
    summary a link leads there (said only atop the page, it was missed: a review)."""
    beside = re.search(r'<p class="field-error" id="attachments-error"[^>]*>(.*?)</p>', page, re.S)
    start = page.find('id="error-summary"')
    summary = page[start : page.find("</div>", start)] if start >= 0 else ""
    return (
        beside is not None
        and words in beside.group(1)
        and re.search(r'<a href="#attachments">[^<]*' + re.escape(words), summary) is not None
    )


def case_with_a_thread(
    org: OrgKeyPair, *, follow_ups: tuple[str, ...] = (), reply: str, locale: str = "en"
) -> str:
    """A request filed through the public form's service, with the submitter's ``follow_ups``
    and then a caseworker's ``reply`` (sealed to the receipt code): its receipt code."""
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS, threats=("detention",), country="TW"),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale=locale,
    )
    case = submission.case
    for text in follow_ups:
        submissions.add_follow_up_from_plaintext(case, org_key=org.key, body=text, files=[])
    db.session.add(
        CaseMessage(
            case_id=case.id,
            kind=MessageKind.STAFF_REPLY,
            sealed_body=crypto.seal_answers({"body": reply}, case.reply_public_key or ""),
        )
    )
    db.session.commit()
    return submission.receipt_code
