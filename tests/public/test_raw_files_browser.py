"""Real Chromium: a file attached on the request form, and one sent later from /status, leave the
browser as one binary part each, its raw ciphertext (the file's bucket plus the seal), not a
third more in base64; the server stores exactly those bytes, and a caseworker opens both on the
case page. A file refused by the server (a part cut short on the way) is said beside the file
field, on either form, and nothing is stored."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from config.settings import base64_length
from intake import crypto
from intake.extensions import db
from intake.models import Case, CaseAttachment
from tests.builders import make_org_key
from tests.cases.test_browser import caseworker_with_keys, sign_in_and_unlock, wait_decrypted
from tests.conftest import table_count
from tests.public.conftest import fill_required_answers, phone_context
from tests.public.test_browser import BodyRecorder
from tests.public.test_follow_up_token_browser import _case_with_a_thread, _open_status

pytestmark = pytest.mark.browser

MB = 1000 * 1000
MIB = 1024 * 1024
# "A 10 MB file": 10,000,000 bytes, under the 10 MiB limit; with its header, the 10 MiB bucket.
EVIDENCE_NAME = "recording-2026-12-01.mp4"
FOLLOW_UP_NAME = "更多證據.pdf"
SEALED_PART = re.compile(
    rb'Content-Disposition: form-data; name="attachments"; filename="([^"]*)"\r\n'
    rb"Content-Type: ([^\r]*)\r\n\r\n"
)


def _evidence(tmp_path: Path, name: str, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)  # what a recording looks like to the seal: nothing to compress
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


class PostSizes:
    """The body size of each POST as Chromium sent it: the Content-Length it wrote, from
    ``page.on("requestfinished")``. (``request.sizes()`` and ``post_data_buffer`` say 0 and
    nothing for a body holding Blobs: BodyRecorder keeps what arrived, byte for byte.)"""

    def __init__(self, page: Any) -> None:
        self.body_sizes: list[int] = []
        page.on("requestfinished", self._finished)

    def _finished(self, request: Any) -> None:
        if request.method == "POST":
            self.body_sizes.append(int(request.all_headers().get("content-length", -1)))


def _posted_parts(body: bytes) -> list[tuple[bytes, bytes]]:
    """(file name, content type) of each sealed file's part in a multipart body."""
    return [(match.group(1), match.group(2)) for match in SEALED_PART.finditer(body)]


def _download(page: Any, attachment_id: int, tmp_path: Path) -> tuple[str, bytes]:
    link = page.locator(f"[data-attachment-id='{attachment_id}'] a.attachment-download")
    with page.expect_download(timeout=60_000) as download_info:
        link.click()
    download = download_info.value
    saved = tmp_path / f"download-{attachment_id}.bin"
    download.save_as(saved)
    return download.suggested_filename, saved.read_bytes()


def test_files_leave_the_browser_as_raw_binary_parts_and_the_caseworker_opens_them(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    org = make_org_key()
    caseworker = caseworker_with_keys(org)
    recorder = BodyRecorder(app)
    evidence, evidence_bytes = _evidence(tmp_path, EVIDENCE_NAME, 10 * MB)
    more, more_bytes = _evidence(tmp_path, FOLLOW_UP_NAME, 300 * 1000)

    context = phone_context(browser, javascript=True)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sizes = PostSizes(page)

        # The request, with a 10 MB file.
        page.goto(f"{live_server.url}/request?lang=en")
        fill_required_answers(page)
        page.set_input_files("#attachments", str(evidence))
        page.click("#send-request")
        page.wait_for_selector("#receipt-panel:not([hidden])")
        code = page.inner_text("#receipt-code").strip()

        # A second file later, from /status, with the receipt code.
        page.goto(f"{live_server.url}/status?lang=en")
        page.fill("#code", code)
        page.click("main button[type=submit]")
        page.wait_for_selector("#follow-up-form")
        page.fill("#body", "One more document.")
        page.set_input_files("#attachments", str(more))
        chosen = page.locator("#attachments-field .file-chosen")
        expect(chosen).to_contain_text(more.name)
        page.click("#send-follow-up")
        expect(page.locator("#send-status")).to_contain_text("sent securely")
        # The field is empty again, and its line says so: naming the file sent, it read as if
        # the file still waited to go.
        expect(chosen).to_have_text("No file chosen yet.")
        # The message added to the thread says its file went with it.
        own = page.locator("#thread li.message-own").last
        expect(own.locator("[data-files-sent]")).to_have_text("with 1 file")
        assert errors == []
    finally:
        context.close()

    db.session.expire_all()
    case = db.session.scalars(sa.select(Case)).one()
    first, second = db.session.scalars(sa.select(CaseAttachment).order_by(CaseAttachment.id)).all()
    assert second.message_id is not None
    posts = [body for body in recorder.bodies if b'name="attachments"' in body]
    assert len(posts) == 2
    for body, stored in zip(posts, (first, second), strict=True):
        # One part per file, named "sealed" (never the file's name), holding the stored
        # ciphertext byte for byte: the bucket plus the seal, not base64 text.
        assert _posted_parts(body) == [(b"sealed", b"application/octet-stream")]
        assert stored.sealed_content in body
        assert len(stored.sealed_content) == stored.size + crypto.SEAL_OVERHEAD
        assert EVIDENCE_NAME.encode() not in body
        assert crypto.b64(stored.sealed_content[:300]).encode()[:200] not in body
    # The 10 MB file: its 10 MiB bucket and the seal, with the answers and the parts' headers
    # (a few KiB); in base64 it was a third more.
    request_body = posts[0]
    assert first.size == 10 * MIB
    sealed_length = 10 * MIB + crypto.SEAL_OVERHEAD
    assert sealed_length < len(request_body) < sealed_length + 16 * 1024
    assert len(request_body) < base64_length(sealed_length) - 3 * MIB
    # What Chromium itself counted as sent, and what arrived, are the same bytes.
    assert len(request_body) in sizes.body_sizes
    assert len(posts[1]) in sizes.body_sizes

    # The caseworker opens both, in their browser, with the organisation key.
    staff = browser.new_context(locale="en-GB", accept_downloads=True)
    try:
        page = staff.new_page()
        page.set_default_timeout(60_000)
        sign_in_and_unlock(page, live_server.url, caseworker, f"/cases/{case.ref}")
        wait_decrypted(page)
        assert _download(page, first.id, tmp_path) == (EVIDENCE_NAME, evidence_bytes)
        assert _download(page, second.id, tmp_path) == (FOLLOW_UP_NAME, more_bytes)
    finally:
        staff.close()


# The part cut short on its way (a broken proxy, or someone meddling): the server's refusal.
CUT_SHORT = """() => {
  const append = FormData.prototype.append;
  FormData.prototype.append = function (name, value, filename) {
    if (name === "attachments" && value instanceof Blob) {
      return append.call(this, name, value.slice(0, value.size - 1), filename);
    }
    return append.apply(this, arguments);
  };
}"""
WRONG_LENGTH = "Sealed file 1 has the wrong length: it is truncated or was not padded."


def test_a_file_the_server_refuses_is_said_beside_the_file_field_on_the_request(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    make_org_key()
    evidence, _ = _evidence(tmp_path, "photo.jpg", 20 * 1000)
    context = phone_context(browser, javascript=True)
    context.add_init_script(script=f"({CUT_SHORT})()")
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{live_server.url}/request?lang=en")
        fill_required_answers(page)
        page.set_input_files("#attachments", str(evidence))
        page.click("#send-request")
        # Beside the field, on its step, which is shown; in the summary, linked to it.
        expect(page.locator("#attachments-error")).to_have_text(WRONG_LENGTH)
        expect(page.locator("[data-step='4']")).to_be_visible()
        expect(page.locator("#attachments")).to_have_attribute("aria-invalid", "true")
        link = page.locator("#error-summary a[href='#attachments']")
        expect(link).to_contain_text(WRONG_LENGTH)
        expect(page.locator("#receipt-panel")).to_be_hidden()
        # Nothing is lost: the file is still chosen, the form works again.
        assert page.evaluate("document.getElementById('attachments').files.length") == 1
        expect(page.locator("#send-request")).to_be_enabled()
    finally:
        context.close()
    db.session.expire_all()
    assert table_count("cases") == 0
    assert table_count("case_attachments") == 0


def test_a_file_the_server_refuses_is_said_beside_the_file_field_on_a_follow_up(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    org = make_org_key()
    code = _case_with_a_thread(org)
    evidence, _ = _evidence(tmp_path, "photo.jpg", 20 * 1000)
    context = phone_context(browser, True, "zh_Hant")
    context.add_init_script(script=f"({CUT_SHORT})()")
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        _open_status(page, live_server.url, code)
        page.wait_for_selector(".message-body.reply-opened >> nth=2")  # scripts bound
        page.fill("#body", "補充資料")
        page.set_input_files("#attachments", str(evidence))
        page.click("#send-follow-up")
        expect(page.locator("#attachments-error")).to_have_text(
            "加密檔案 1 長度錯誤：內容被截斷或未經填充。"
        )
        expect(page.locator("#attachments")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#error-summary a[href='#attachments']")).to_be_visible()
        assert page.input_value("#body") == "補充資料"
    finally:
        context.close()
    db.session.expire_all()
    assert table_count("case_messages") == 3  # the thread as it was: nothing stored
    assert table_count("case_attachments") == 0
