"""A follow-up of files alone, in real Chromium: a defender with a photo of a summons and
nothing to add was told "Write a message." Now the files go alone, the defender's thread
says "Files only, no message.", and the caseworker's conversation says where the files are."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from intake.extensions import db
from intake.models import Case, CaseAttachment, CaseMessage, MessageKind, Role
from tests.builders import give_key, make_org_key, make_user
from tests.cases.test_browser import phone_case_page
from tests.public.conftest import case_with_a_thread
from tests.sealed import open_file, open_message

pytestmark = pytest.mark.browser

PHOTO = {"name": "summons.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8 summons photo"}
SEND = "#follow-up-form button[type=submit]:not([data-language-url])"


def open_status(page: Any, base: str, code: str) -> None:
    page.goto(f"{base}/status?lang=en")
    page.fill("#code", code)
    page.click("main button[type=submit]")
    page.wait_for_selector("#follow-up-form")


def test_a_follow_up_may_be_files_alone(app: Flask, live_server: Any, browser: Any) -> None:
    org = make_org_key()
    code = case_with_a_thread(org, reply="We received your request.")
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        open_status(page, live_server.url, code)
        page.wait_for_selector(".message-body.reply-opened")

        # Nothing at all: asked for one or the other, beside the message box.
        page.click(SEND)
        error = page.locator('[data-error-for="body"]')
        expect(error).to_have_text("Write a message or add a file.")
        # A file chosen takes the error back, and goes alone.
        page.set_input_files("#attachments", files=[PHOTO])
        expect(error).to_be_hidden()
        page.click(SEND)
        expect(page.locator("#send-status")).to_contain_text("Your message was sent securely.")
        last = page.locator("#thread > li").last
        expect(last.locator(".message-body")).to_have_text("Files only, no message.")
        expect(last.locator("[data-files-sent]")).to_have_text("with 1 file")

        # Opened again, the defender's own copy says the same.
        open_status(page, live_server.url, code)
        expect(page.locator("#thread > li").last.locator(".message-body")).to_have_text(
            "Files only, no message."
        )
    finally:
        context.close()

    db.session.rollback()
    follow_up = db.session.scalars(
        sa.select(CaseMessage)
        .where(CaseMessage.kind == MessageKind.SUBMITTER_FOLLOW_UP)
        .order_by(CaseMessage.id.desc())
    ).first()
    assert follow_up is not None
    assert open_message(follow_up.sealed_body, org.secret) == ""
    stored = db.session.scalars(
        sa.select(CaseAttachment).where(CaseAttachment.message_id == follow_up.id)
    ).one()
    assert open_file(stored.sealed_content, org.secret).data == PHOTO["buffer"]

    # The caseworker's conversation says where the files are, not an empty message.
    ref = db.session.scalars(sa.select(Case.ref)).one()
    user = give_key(make_user(Role.CASEWORKER), org)
    staff = phone_case_page(browser, app, live_server, user, org, f"/cases/{ref}")
    try:
        item = staff.locator(f"#message-{follow_up.id} .message-body")
        expect(item).to_have_text("Files only, no message: they are under Attachments.")
    finally:
        staff.context.close()
