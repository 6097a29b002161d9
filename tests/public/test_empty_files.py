"""A 0-byte file is refused beside the file field, without JavaScript, on the request and on a
follow-up, in the page's language: accepted, it "arrived" as nothing, and a defender believed
they had sent evidence they had not. (With JavaScript, submitter.js refuses it before sealing:
test_empty_files_browser.py; a sealed file cannot be seen to be empty.)"""

from __future__ import annotations

import html
import io
import re

import pytest
from flask import Flask

from intake.extensions import db
from intake.models import Urgency
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import csrf_token, full_answers, routing_form

EMPTY = {
    "en": "“empty.pdf” is empty (0 bytes): nothing of it would arrive. Choose the file again, "
    "or leave it out.",
    "ru": "«empty.pdf» пуст (0 байт): из него ничего не дойдёт. Выберите файл заново или "
    "уберите его.",
    "zh_Hant": "「empty.pdf」是空的（0 位元組）：不會送出任何內容。請重新選擇檔案，或將它拿掉。",
}


def _attachments_error(page: str) -> str:
    found = re.search(r'<p class="field-error" id="attachments-error"[^>]*>(.*?)</p>', page, re.S)
    assert found, "no error beside the files"
    return html.unescape(found.group(1)).strip()


@pytest.mark.parametrize("lang", list(EMPTY))
def test_an_empty_file_on_the_request_is_refused_beside_the_files(
    any_app: Flask, lang: str
) -> None:
    make_org_key()
    client = any_app.test_client()
    data = {
        "csrf_token": csrf_token(client, f"/request?lang={lang}"),
        **full_answers(),
        **routing_form(),
        "attachments": [
            (io.BytesIO(b""), "empty.pdf", "application/pdf"),
            (io.BytesIO(b"%PDF-1.7"), "real.pdf", "application/pdf"),
        ],
    }
    response = client.post(f"/request?lang={lang}", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert EMPTY[lang] in _attachments_error(response.text)
    assert "real.pdf" not in _attachments_error(response.text)  # only the empty one
    db.session.rollback()
    assert table_count("cases") == 0


def test_an_empty_file_on_a_follow_up_is_refused_and_the_message_kept(any_app: Flask) -> None:
    org = make_org_key()
    code = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS, threats=["detention"], country="TW"),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="ru",
    ).receipt_code
    client = any_app.test_client()
    response = client.post(
        "/status/follow-up?lang=ru",
        data={
            "csrf_token": csrf_token(client, "/status?lang=ru"),
            "code": code,
            "body": "Вот документ.",
            "attachments": [(io.BytesIO(b""), "empty.pdf", "application/pdf")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert EMPTY["ru"] in _attachments_error(response.text)
    assert "Вот документ." in response.text
    db.session.rollback()
    assert table_count("case_messages") == 0
    assert table_count("case_attachments") == 0
