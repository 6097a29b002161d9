"""Real Chromium on the queue: a due date's "how far off" is the page's own, in
intake.clock.relative's words, and no script adds another ("(30 hours ago)", written by
Intl.RelativeTimeFormat beside the server's "30 hours overdue")."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from intake.models import CaseStatus, Role
from tests.builders import make_case, make_org_key, make_user
from tests.cases.test_queue_browser import open_context
from tests.cases.test_queue_relative_time import AHEAD, LATE, WORDS, _refer

pytestmark = pytest.mark.browser

NAMED = {"victim_name": "Ana Ruiz", "what_happened": "Detained at a checkpoint"}


@pytest.mark.parametrize(("lang", "late", "ahead"), WORDS)
def test_each_due_date_has_one_hint_in_the_servers_words(
    app: Flask, live_server: Any, browser: Any, lang: str, late: str, ahead: str
) -> None:
    org = make_org_key()
    user = make_user(Role.CASEWORKER)
    answered = make_case(org, NAMED, ref="RF-LATE", status=CaseStatus.REFERRED, assignee_id=user.id)
    _refer(answered.id, -LATE)
    waiting = make_case(org, NAMED, ref="RF-AHEAD", status=CaseStatus.REFERRED, assignee_id=user.id)
    _refer(waiting.id, AHEAD)
    context = open_context(browser, app, live_server.url, user, org)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/cases/?view=all&lang={lang}")
        page.wait_for_selector('tr[data-ref="RF-LATE"][data-person-state=open]')
        for ref, words in (("RF-LATE", late), ("RF-AHEAD", ahead)):
            hints = page.locator(f'tr[data-ref="{ref}"] .cell-due .relative-time')
            assert hints.all_inner_texts() == [f"({words})"], ref
        action = page.locator('tr[data-ref="RF-LATE"] .cell-action').inner_text()
        assert action.endswith(late)
    finally:
        context.close()
