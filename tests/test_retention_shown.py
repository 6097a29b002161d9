"""Retention is said where it matters: /admin/settings says how long closed cases are kept
(read-only: the operator sets RETENTION_DAYS), the case page's status form says it while
"Closed" is chosen, and a closed case's page says after when it goes, by the rule the nightly
job applies (retention.deleted_after)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.clock import iso_utc
from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseStatus, Role
from intake.services import retention
from tests.builders import give_key, make_case, make_org_key, make_user, sign_in, signed_in_context


def flat(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def test_the_settings_page_says_how_long_closed_cases_are_kept(
    app: Flask, client: FlaskClient
) -> None:
    sign_in(client, make_user(Role.ADMIN))
    html = flat(client.get("/admin/settings").get_data(as_text=True))
    assert (
        "Closed cases are deleted 365 days after they close (RETENTION_DAYS; set by whoever "
        "runs Refuge)." in html
    )
    app.config["RETENTION_DAYS"] = 30
    html = client.get("/admin/settings?lang=zh_Hant").get_data(as_text=True)
    assert (
        "已結案的案件會在結案 30 天後刪除（RETENTION_DAYS；由負責運行 Refuge 的人設定）。" in html
    )
    # Read-only: nothing on the page sets it.
    assert 'name="retention' not in html.lower()


def test_a_closed_case_says_after_when_it_is_deleted_and_the_job_agrees(
    app: Flask, client: FlaskClient
) -> None:
    app.config["RETENTION_DAYS"] = 90
    org = make_org_key()
    closed_at = utcnow() - timedelta(days=10)
    case = make_case(org, status=CaseStatus.CLOSED, closed_at=closed_at)
    sign_in(client, give_key(make_user(Role.CASEWORKER), org))
    html = flat(client.get(f"/cases/{case.ref}?lang=en").get_data(as_text=True))
    deleted = closed_at + timedelta(days=90)
    assert retention.deleted_after(closed_at) == deleted
    assert "data-retention-date" in html
    assert "Closed cases are deleted 90 days after closing: this one after" in html
    assert f'<time datetime="{iso_utc(deleted)}"' in html
    # The nightly job keeps it until that moment and deletes it after.
    assert retention.purge_closed_cases(now=deleted - timedelta(minutes=1)) == 0
    assert retention.purge_closed_cases(now=deleted + timedelta(minutes=1)) == 1
    assert db.session.get(Case, case.id) is None


def test_an_open_case_names_no_deletion_date_and_the_closing_choice_says_the_rule(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    case = make_case(org, status=CaseStatus.ASSESSING)
    # A case closed before closed_at was kept: no date can be derived, none is made up.
    undated = make_case(org, status=CaseStatus.CLOSED, closed_at=None)
    sign_in(client, give_key(make_user(Role.CASEWORKER), org))
    html = flat(client.get(f"/cases/{case.ref}").get_data(as_text=True))
    assert "data-retention-date" not in html
    assert "data-closing-retention" in html
    assert "Closed cases are deleted 365 days after closing." in html
    chinese = client.get(f"/cases/{case.ref}?lang=zh_Hans").get_data(as_text=True)
    assert "已结案的案件会在结案 365 天后删除。" in chinese
    html = client.get(f"/cases/{undated.ref}?lang=en").get_data(as_text=True)
    assert "data-retention-date" not in html


@pytest.mark.browser
def test_the_status_form_says_the_rule_only_while_closed_is_chosen_without_javascript(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    case = make_case(org, status=CaseStatus.ASSESSING)
    user = give_key(make_user(Role.CASEWORKER), org)
    context = signed_in_context(
        browser,
        app,
        live_server.url,
        user,
        viewport={"width": 390, "height": 800},
        java_script_enabled=False,
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/cases/{case.ref}")
        note = page.locator("[data-closing-retention]")
        assert note.is_hidden()
        page.select_option("#status-to", "monitoring")
        assert note.is_hidden()
        page.select_option("#status-to", "closed")
        assert note.is_visible()
        assert note.inner_text() == "Closed cases are deleted 365 days after closing."
        box = note.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 390
    finally:
        context.close()
