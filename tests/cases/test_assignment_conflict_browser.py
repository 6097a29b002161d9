"""The reviewer's repro in real Chromium: two staff, two contexts, one row of the Unassigned tab.
The second "Assign to me" is refused with who holds the case now; nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import AuditEvent, Case, Role
from tests.builders import give_key, make_case, make_org_key, make_user
from tests.cases.test_queue_browser import open_context

pytestmark = pytest.mark.browser


def test_the_second_assign_to_me_on_the_same_row_is_refused_and_names_the_holder(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    case = make_case(org, ref="RF-TAKEN001")
    a = give_key(make_user(Role.CASEWORKER), org)
    b = give_key(make_user(Role.CASEWORKER), org)
    db.session.commit()
    contexts = [open_context(browser, app, live_server.url, who, org) for who in (a, b)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(15_000)
            page.goto(f"{live_server.url}/cases/?view=unassigned")
        row_button = 'tr[data-ref="RF-TAKEN001"] button[value=me]'
        with pages[0].expect_navigation():
            pages[0].locator(row_button).click()
        assert f"Assigned to {a.email}." in pages[0].locator("main").inner_text()
        with pages[1].expect_navigation():
            pages[1].locator(row_button).click()
        said = pages[1].locator("main").inner_text()
        assert f"While you had this case open, it was assigned to {a.email}." in said
        assert "Nothing was changed" in said
        assert pages[1].locator(".flash-success").count() == 0
        assert pages[1].locator("[data-assignee]").inner_text() == a.email
    finally:
        for context in contexts:
            context.close()
    db.session.expire_all()
    assert db.session.get_one(Case, case.id).assignee_id == a.id
    events = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "case.assign")
    ).all()
    assert events == [{"from_user_id": None, "to_user_id": a.id}]
