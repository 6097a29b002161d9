"""Real Chromium: words that arrive after a case was indexed become searchable. A follow-up
from /status or a caseworker's note marks the case to be indexed again; the next key holder
who opens it (its page, or its row in the queue) makes its tokens again with that text, and
the words themselves never leave the browser."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import CaseSearchIndex, Role
from intake.services import casework, submissions
from tests.builders import give_key, make_case, make_org_key, make_user
from tests.cases.test_browser import db_dump
from tests.cases.test_queue_browser import (
    open_queue,
    search,
    shown_refs,
    wait_for,
)

pytestmark = pytest.mark.browser


def indexed(case_id: int) -> bool:
    return db.session.get(CaseSearchIndex, case_id) is not None


def test_a_follow_up_and_a_note_are_found_after_the_next_key_holder_opens_the_case(
    app: Flask, live_server: Any, browser: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    case = make_case(org, {"victim_name": "Ana Ruiz", "what_happened": "x"}, ref="RF-FOLLOW01")
    make_case(org, {"victim_name": "Someone Else", "what_happened": "y"}, ref="RF-OTHER001")
    user = give_key(make_user(Role.CASEWORKER), org)
    sent: list[str] = []
    context, page = open_queue(browser, app, base, user, org, sent)
    try:
        wait_for(lambda: indexed(case.id))  # the first key holder's queue indexed it

        # The submitter writes again from /status: the case needs indexing again.
        submissions.add_follow_up_from_plaintext(
            case, org_key=org.key, body="Juan was taken to the border post", files=[]
        )
        db.session.expire_all()
        assert not indexed(case.id)
        # (A queue page open with the keys unlocked would read it in the background too:
        # tests/cases/test_search_backlog_browser.py.)

        # Opening the case page reads the follow-up into the tokens.
        page.goto(f"{base}/cases/{case.ref}")
        page.wait_for_selector(".message-text")
        wait_for(lambda: indexed(case.id))
        page.goto(f"{base}/cases/?view=all")
        for words in ("Juan", "border post", "ana ruiz"):
            search(page, words)
            assert shown_refs(page) == ["RF-FOLLOW01"], words

        # A caseworker's note (sealed in the browser) is searched too; this time the queue's
        # row is what makes the tokens again.
        casework.add_note(
            case, crypto.seal_answers({"body": "Spoke with Dolores"}, org.public), org.key.id, user
        )
        db.session.expire_all()
        assert not indexed(case.id)
        page.goto(f"{base}/cases/?view=all")
        wait_for(lambda: indexed(case.id))
        for words in ("dolores", "Juan"):
            search(page, words)
            assert shown_refs(page) == ["RF-FOLLOW01"], words
    finally:
        context.close()

    for secret in ("juan", "dolores", "border"):
        assert not [s for s in sent if secret in s], secret
        assert secret not in db_dump().lower(), secret
    count = db.session.scalar(
        sa.select(CaseSearchIndex.token_count).where(CaseSearchIndex.case_id == case.id)
    )
    assert count is not None
    assert count > 4
