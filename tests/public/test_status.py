"""/status: the receipt code finds the case, shows its status and sealed replies; follow-ups are
sealed to the organisation; wrong codes are refused and throttled."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import CaseAttachment, CaseMessage, MessageKind, SharedStatus, Urgency
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import OrgKeyPair, make_org_key
from tests.public.conftest import (
    CANARY,
    canary_needles,
    csrf_token,
    database_text,
    full_answers,
)
from tests.sealed import open_file, open_message


def submit(org: OrgKeyPair) -> submissions.Submission:
    return submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS, threats=["detention"], country="TW"),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="zh_Hant",
    )


def at_status(app: Flask) -> tuple[OrgKeyPair, submissions.Submission, Any, str]:
    """A request filed, and a client on /status with its CSRF token: to send a follow-up."""
    org = make_org_key()
    submission = submit(org)
    client = app.test_client()
    return org, submission, client, csrf_token(client, "/status")


def reply_to(case: Any, text: str) -> CaseMessage:
    """A caseworker's reply, sealed (as the staff browser does) to the submitter's reply key."""
    message = CaseMessage(
        case_id=case.id,
        kind=MessageKind.STAFF_REPLY,
        sealed_body=crypto.seal_answers({"body": text}, case.reply_public_key),
    )
    db.session.add(message)
    db.session.commit()
    return message


def test_the_receipt_code_shows_status_and_the_sealed_reply(roomy_app: Flask) -> None:
    org = make_org_key()
    submission = submit(org)
    submission.case.shared_status = SharedStatus.REFERRED
    message = reply_to(submission.case, "我們已聯絡律師")
    client = roomy_app.test_client()
    token = csrf_token(client, "/status?lang=zh_Hant")
    # Typed loosely: lower case, spaces instead of dashes, O for 0.
    typed = submission.receipt_code.lower().replace("-", " ").replace("0", "o")
    response = client.post("/status", data={"csrf_token": token, "code": typed})
    assert response.status_code == 200
    assert 'data-status="referred"' in response.text
    assert "正在安排協助" in response.text  # "help being arranged"
    sealed = re.search(r'data-sealed-reply="([^"]+)"', response.text)
    assert sealed is not None
    assert sealed.group(1) == message.sealed_body
    # The submitter's browser derives the reply key from the code and opens it.
    normalised = crypto.normalise_receipt_code(submission.receipt_code)
    assert normalised is not None
    _public, secret = crypto.reply_keypair(normalised)
    assert open_message(sealed.group(1), secret) == "我們已聯絡律師"


@pytest.mark.parametrize(
    "separator",
    ["\u2013", "\u2014", "\u2212", "\u2011", "\uff0d", "\u3000"],
    ids=[
        "en-dash",
        "em-dash",
        "minus",
        "non-breaking-hyphen",
        "full-width-hyphen",
        "ideographic-space",
    ],
)
def test_a_code_typed_with_a_phones_dashes_or_in_full_width_is_found(
    roomy_app: Flask, separator: str
) -> None:
    """A phone's "smart" dashes and a Chinese input method's full-width characters were
    refused with "You entered 24 characters… (spaces and dashes do not count)": the code was
    right, the message contradicted what the person typed."""
    org, submission, client, token = at_status(roomy_app)
    typed = submission.receipt_code.replace("-", separator)
    wide = "".join(chr(ord(ch) + 0xFEE0) if ch.isalnum() else ch for ch in typed)
    for code in (typed, wide):
        response = client.post("/status", data={"csrf_token": token, "code": code})
        assert response.status_code == 200, code
        assert 'id="shared-status"' in response.text
    # A code too short is still counted as the person sees it: dashes of any kind do not count.
    short = client.post("/status", data={"csrf_token": token, "code": f"ABCD{separator}EFGH"})
    assert short.status_code == 400
    assert "You entered 8 characters" in short.text


def test_a_wrong_code_is_refused_then_throttled(make_app: Any) -> None:
    app = make_app("sqlite", STATUS_RATE_LIMIT="3 per minute")
    with app.app_context():
        org = make_org_key()
        submission = submit(org)
        client = app.test_client()
        token = csrf_token(client, "/status")
        for guess in ("AAAA-BBBB-CCCC-DDDD-EEEE", "AAAA-BBBB-CCCC-DDDD-EEEF"):
            response = client.post("/status", data={"csrf_token": token, "code": guess})
            assert response.status_code == 404
            assert "No request has this receipt code" in response.text
        # Not even the shape of a code: refused before any look-up, and not counted.
        response = client.post("/status", data={"csrf_token": token, "code": "not a code"})
        assert response.status_code == 400
        assert "You entered 8 characters" in response.text
        response = client.post(
            "/status", data={"csrf_token": token, "code": "AAAA-BBBB-CCCC-DDDD-EEEG"}
        )
        assert response.status_code == 404  # the third guess
        response = client.post(
            "/status", data={"csrf_token": token, "code": submission.receipt_code}
        )
        assert response.status_code == 429
        # The code form again, saying beside the field how long to wait (not a page headed
        # "429" saying "wait a little", with a link to the start page only).
        assert _code_error(response.text) == (
            "Too many attempts with a wrong code. Wait 1 minute, then try again."
        )
        assert 'id="code"' in response.text
        assert 0 < int(response.headers["Retry-After"]) <= 61
        assert "<h1>429</h1>" not in response.text
        arabic = client.post(
            "/status?lang=ar", data={"csrf_token": token, "code": submission.receipt_code}
        )
        assert arabic.status_code == 429
        assert (
            _code_error(arabic.text)
            == "محاولات كثيرة جدًا برمز خاطئ. انتظر دقيقة واحدة ثم حاول مرة أخرى."
        )


def _code_error(page: str) -> str:
    """The message beside the code field."""
    found = re.search(r'<p class="field-error" id="code-error"[^>]*>(.*?)</p>', page, re.S)
    assert found is not None
    return found.group(1).strip()


@pytest.mark.parametrize(
    ("language", "said", "wrong"),
    [
        (
            "en",
            "You entered 8 characters. Receipt codes have 20 characters in 5 groups of 4 "
            "(spaces and dashes do not count).",
            "No request has this receipt code. Check the code and try again.",
        ),
        (
            "zh_Hant",
            "您輸入了 8 個字元。收據代碼共有 20 個字元，分成 5 組，每組 4 個（空格和連字號不計）。",
            "沒有請求使用此收據代碼。請檢查代碼後再試。",
        ),
        (
            "ru",
            "Вы ввели 8 символов. В коде квитанции 20 символов: 5 групп по 4 "
            "(пробелы и дефисы не считаются).",
            "Нет обращения с таким кодом квитанции. Проверьте код и попробуйте ещё раз.",
        ),
    ],
)
def test_a_truncated_code_says_how_long_it_is_and_how_long_codes_are(
    roomy_app: Flask, language: str, said: str, wrong: str
) -> None:
    """8 of the 20 characters copied got "no request has this code", which sent the person to
    check characters that were right. A code of the right length that is wrong still does."""
    submission = submit(make_org_key())
    client = roomy_app.test_client()
    token = csrf_token(client, f"/status?lang={language}")
    truncated = submission.receipt_code[:9]  # "ABCD-EFGH": two groups, 8 characters
    response = client.post(
        f"/status?lang={language}", data={"csrf_token": token, "code": truncated}
    )
    assert response.status_code == 400
    assert _code_error(response.text) == said
    assert f'value="{truncated}"' in response.text  # kept, to be completed
    assert wrong not in response.text
    assert 'data-status="' not in response.text
    # Right length, wrong code: the message of before.
    wrong_code = ("0000" if not submission.receipt_code.startswith("0000") else "1111") + (
        submission.receipt_code[4:]
    )
    response = client.post(
        f"/status?lang={language}", data={"csrf_token": token, "code": wrong_code}
    )
    assert response.status_code == 404
    assert _code_error(response.text) == wrong


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("A", "You entered 1 character. Receipt codes have 20 characters"),
        ("ABCD-EFGH-JKMN-PQRS-TVWX-Y", "You entered 21 characters."),
        ("- - -", "You entered 0 characters."),
    ],
)
def test_a_code_too_short_or_too_long_is_refused_without_a_look_up(
    roomy_app: Flask, code: str, said: str
) -> None:
    make_org_key()
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    response = client.post("/status", data={"csrf_token": token, "code": code})
    assert response.status_code == 400
    assert _code_error(response.text).startswith(said)


def test_mistyped_codes_do_not_count_against_the_status_limit(make_app: Any) -> None:
    """Nothing is looked up for a code of the wrong length or with a character no code has: a
    person mending what they typed spent the attempts, then the right code was refused with
    "Too many attempts" (a review in Chromium, Russian and Arabic keyboards)."""
    app = make_app("sqlite", STATUS_RATE_LIMIT="3 per minute")
    with app.app_context():
        submission = submit(make_org_key())
        client = app.test_client()
        token = csrf_token(client, "/status?lang=ar")
        for length in (4, 9, 14):
            response = client.post(
                "/status?lang=ar",
                data={"csrf_token": token, "code": submission.receipt_code[:length]},
            )
            assert response.status_code == 400
            assert "رمز الإيصال يتكوّن من 20 حرفًا في 5 مجموعات من 4 أحرف" in response.text
        for stranger in ("U", "Ж", "#"):
            response = client.post(
                "/status?lang=en",
                data={"csrf_token": token, "code": stranger + submission.receipt_code[1:]},
            )
            assert response.status_code == 400
            assert _code_error(response.text) == (
                f"A receipt code never has “\u2068{stranger}\u2069”. Check those characters "
                "against your receipt."
            )
        # Two, in Arabic: each quoted and isolated (they were scrambled, “Ж” ”U”), with "or".
        response = client.post(
            "/status?lang=ar",
            data={"csrf_token": token, "code": "UЖ" + submission.receipt_code[2:]},
        )
        assert response.status_code == 400
        assert "«\u2068U\u2069» أو «\u2068Ж\u2069»" in _code_error(response.text)
        response = client.post(
            "/status", data={"csrf_token": token, "code": submission.receipt_code}
        )
        assert response.status_code == 200


# Latin capitals and digits as a Russian, Greek or Arabic keyboard types their look-alikes.
CYRILLIC = str.maketrans("ABEKMHOPCTXY", "АВЕКМНОРСТХУ")
GREEK = str.maketrans("ABEZHIKMNOPTYX", "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@pytest.mark.parametrize(
    "keyboard",
    [CYRILLIC, GREEK, ARABIC_DIGITS, PERSIAN_DIGITS],
    ids=["cyrillic", "greek", "arabic-digits", "persian-digits"],
)
def test_a_code_typed_with_look_alikes_of_another_script_is_found(
    roomy_app: Flask, keyboard: dict[int, str]
) -> None:
    """Е, В, М, Н of a Russian keyboard, or ٨ and ٩ of an Arabic one, look like the code's
    letters and digits: "no request has this code", and the attempts ran out."""
    submission = submit(make_org_key())
    typed = submission.receipt_code.translate(keyboard)
    lowered = typed.lower()  # a phone's keyboard types small letters first
    for code in (typed, lowered):
        assert crypto.normalise_receipt_code(code) == crypto.normalise_receipt_code(
            submission.receipt_code
        ), code
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    response = client.post("/status", data={"csrf_token": token, "code": lowered})
    assert response.status_code == 200
    assert 'id="shared-status"' in response.text


def test_successful_look_ups_do_not_count_against_the_limit(make_app: Any) -> None:
    app = make_app("sqlite", STATUS_RATE_LIMIT="2 per minute")
    with app.app_context():
        org = make_org_key()
        submission = submit(org)
        client = app.test_client()
        token = csrf_token(client, "/status")
        for _ in range(4):
            response = client.post(
                "/status", data={"csrf_token": token, "code": submission.receipt_code}
            )
            assert response.status_code == 200


def test_an_expired_token_on_status_keeps_the_code(roomy_app: Flask) -> None:
    make_org_key()
    client = roomy_app.test_client()
    csrf_token(client, "/status")
    response = client.post("/status", data={"csrf_token": "old", "code": "ABCD-EFGH"})
    assert response.status_code == 400
    assert 'value="ABCD-EFGH"' in response.text


def test_a_follow_up_without_js_is_sealed_to_the_organisation(roomy_app: Flask) -> None:
    org, submission, client, token = at_status(roomy_app)
    response = client.post(
        "/status/follow-up",
        data={
            "csrf_token": token,
            "code": submission.receipt_code,
            "body": f"more news {CANARY}",
            "attachments": [
                (io.BytesIO(b"scan " + CANARY.encode()), "scan.pdf", "application/pdf")
            ],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "Your message was sent securely." in response.text
    message = db.session.scalars(
        sa.select(CaseMessage).where(CaseMessage.kind == MessageKind.SUBMITTER_FOLLOW_UP)
    ).one()
    assert message.org_key_id == org.key.id
    assert open_message(message.sealed_body, org.secret) == f"more news {CANARY}"
    attachment = db.session.scalars(
        sa.select(CaseAttachment).where(CaseAttachment.message_id == message.id)
    ).one()
    opened = open_file(attachment.sealed_content, org.secret)
    assert opened.name == "scan.pdf"
    assert opened.data == b"scan " + CANARY.encode()


def test_follow_up_files_without_js_are_stored_padded_to_buckets_and_the_canary_nowhere(
    roomy_app: Flask,
) -> None:
    org, submission, client, token = at_status(roomy_app)
    sizes = [1, 3000, 70_000]
    response = client.post(
        "/status/follow-up",
        data={
            "csrf_token": token,
            "code": submission.receipt_code,
            "body": f"files {CANARY}",
            "attachments": [
                (io.BytesIO(CANARY.encode() + b"x" * size), f"{CANARY}-{size}.jpg", "image/jpeg")
                for size in sizes
            ],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    # The thread says the files went with the message ("You wrote" and the text only, it did
    # not), and so does the page opened again with the code.
    assert "<span data-files-sent>with 3 files</span>" in response.get_data(as_text=True)
    again = client.post("/status", data={"csrf_token": token, "code": submission.receipt_code})
    assert "<span data-files-sent>with 3 files</span>" in again.get_data(as_text=True)
    stored = db.session.scalars(
        sa.select(CaseAttachment).where(CaseAttachment.message_id.is_not(None))
    ).all()
    assert len(stored) == len(sizes)
    for attachment in stored:
        assert crypto.is_file_bucket(len(attachment.sealed_content) - 48)  # sealed box overhead
    text = database_text(roomy_app)
    assert not any(needle.decode(errors="ignore") in text for needle in canary_needles())


def test_a_follow_up_without_js_may_be_files_alone(roomy_app: Flask) -> None:
    """A photo of a summons may say all there is to say: "Write a message." refused it. Two
    such sent from two tabs of one session (one form token) are two messages, not one."""
    org, submission, client, token = at_status(roomy_app)
    form_token = crypto.new_submission_token()

    def send_alone(photo: bytes, body: str) -> Any:
        """The photo, with nothing written (spaces at most), under the session's one token."""
        return client.post(
            "/status/follow-up",
            data={
                "csrf_token": token,
                "code": submission.receipt_code,
                "body": body,
                "submission_token": form_token,
                "attachments": [(io.BytesIO(photo), "summons.jpg", "image/jpeg")],
            },
            content_type="multipart/form-data",
        )

    for photo in (b"summons page 1", b"summons page 2"):
        response = send_alone(photo, "  \r\n ")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Your message was sent securely." in page
    messages = db.session.scalars(
        sa.select(CaseMessage).where(CaseMessage.kind == MessageKind.SUBMITTER_FOLLOW_UP)
    ).all()
    assert [open_message(m.sealed_body, org.secret) for m in messages] == ["", ""]
    files = db.session.scalars(sa.select(CaseAttachment).order_by(CaseAttachment.id)).all()
    assert [open_file(f.sealed_content, org.secret).data for f in files] == [
        b"summons page 1",
        b"summons page 2",
    ]
    # The thread says what they were, not an empty message or "could not be opened".
    assert page.count('<span class="files-only">Files only, no message.</span>') == 2
    assert '">This message could not be opened' not in page
    # The same files sent again with the same token (an answer lost) are stored once.
    assert send_alone(b"summons page 2", "").status_code == 200
    db.session.expire_all()
    assert len(db.session.scalars(sa.select(CaseMessage)).all()) == 2


@pytest.mark.parametrize("body", ["", "   ", "\r\n\r\n"])
def test_a_follow_up_of_nothing_asks_for_a_message_or_a_file(roomy_app: Flask, body: str) -> None:
    org, submission, client, token = at_status(roomy_app)
    response = client.post(
        "/status/follow-up",
        data={"csrf_token": token, "code": submission.receipt_code, "body": body},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Write a message or add a file." in response.get_data(as_text=True)
    assert db.session.scalars(sa.select(CaseMessage)).all() == []


def test_a_follow_up_from_the_browser_is_stored_as_sent(roomy_app: Flask) -> None:
    org = make_org_key()
    submission = submit(org)
    client = roomy_app.test_client()
    key = client.get("/request/key").json
    assert key is not None
    token = key["csrf_token"]
    sealed_body = crypto.seal_answers({"body": "sealed in the browser"}, org.public)
    response = client.post(
        "/status/follow-up",
        data={
            "code": submission.receipt_code,
            "sealed_body": sealed_body,
            "org_key_id": str(org.key.id),
        },
        headers={"Accept": "application/json", "X-CSRFToken": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    message = db.session.scalars(sa.select(CaseMessage)).one()
    assert message.sealed_body == sealed_body


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"code": "WRONG-CODE", "body": "hello"}, 404),
        ({"body": "hello"}, 404),
        ({"code": "{code}", "sealed_body": "not base64!", "org_key_id": "{key}"}, 400),
        ({"code": "{code}", "sealed_body": "{sealed}", "org_key_id": "999"}, 400),
        ({"code": "{code}", "sealed_body": "{sealed}", "org_key_id": "{key}", "x": "1"}, 400),
        ({"code": "{code}", "body": "", "csrf_token": "{token}"}, 422),
        ({"code": "{code}", "body": "hello", "csrf_token": "stale"}, 400),
    ],
)
def test_hostile_follow_ups_are_refused_and_store_nothing(
    roomy_app: Flask, fields: dict[str, str], status: int
) -> None:
    org, submission, client, token = at_status(roomy_app)
    values = {
        "code": submission.receipt_code,
        "key": str(org.key.id),
        "sealed": crypto.seal_answers({"body": "x"}, org.public),
        "token": token,
    }
    data = {name: value.format(**values) for name, value in fields.items()}
    data.setdefault("csrf_token", token)
    response = client.post("/status/follow-up", data=data, content_type="multipart/form-data")
    assert response.status_code == status
    db.session.rollback()
    assert db.session.scalars(sa.select(CaseMessage)).all() == []


@pytest.mark.redis
def test_rate_limit_storage_in_redis_holds_no_addresses_and_no_content(
    make_app: Any, redis_url: str
) -> None:
    import redis

    app = make_app("sqlite", RATELIMIT_STORAGE_URI=redis_url)
    with app.app_context():
        make_org_key()
        client = app.test_client()
        token = csrf_token(client)
        response = client.post(
            "/request",
            data={
                "csrf_token": token,
                **full_answers(),
                "urgency": "days",
                "attachments": [
                    (io.BytesIO(b"evidence " + CANARY.encode()), "e.txt", "text/plain")
                ],
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 303  # Post/Redirect/Get to the receipt
        client.post("/status", data={"csrf_token": token, "code": "AAAA-BBBB-CCCC-DDDD-EEEE"})
    store = redis.Redis.from_url(redis_url)
    keys = store.keys("*")
    assert keys, "the limiter wrote its counters to Redis"
    dump = b" ".join(keys)
    for key in keys:
        kind = store.type(key)
        if kind == b"string":
            dump += b" " + (store.get(key) or b"")
        elif kind == b"list":
            dump += b" ".join(store.lrange(key, 0, -1))
        elif kind == b"zset":
            dump += b" ".join(store.zrange(key, 0, -1))
        elif kind == b"hash":
            dump += b" ".join(b"%s=%s" % item for item in store.hgetall(key).items())
    assert b"127.0.0.1" not in dump
    for needle in canary_needles():
        assert needle not in dump
