"""A UN step refused because a colleague recorded another one while the page was open: said at
the top of the UN steps, with the typed summary shown back (still sealed, for the browser to
open), not inside a step form the page no longer has. A review with two colleagues in Chromium
found the second refused without a word, the reply's summary lost, and the referral saying
"No reply"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import OrgKey, Role, UnStep, UnStepKind
from intake.services import un_steps
from tests import browser_steps as steps
from tests.builders import make_org_key, make_staff_with_keys, sign_in
from tests.referrals.conftest import draft_un_referral, sent_referral

SUMMARY = "The ministry denies the detention.\n第二行"


def _local(days_ago: int) -> str:
    return (utcnow() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M")


def test_a_reply_recorded_after_a_colleagues_reply_is_refused_aloud_with_the_summary_shown_back(
    web: Flask,
) -> None:
    """Both colleagues had the government's answer; the first recorded it. (A reply after a
    colleague's "No reply" is a late reply, and is recorded: test_late_reply.)"""
    referral = draft_un_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    for step, extra in (
        ("submitted", {"channel": "online_form"}),
        ("communication_sent", {"communication_type": "allegation_letter"}),
        ("reply_received", {}),  # the colleague, first
    ):
        response = client.post(
            f"/referrals/{referral.id}/un-step", data={"step": step, "at": _local(3), **extra}
        )
        assert response.status_code == 303, step
    key = db.session.scalars(sa.select(OrgKey)).one()
    summary = crypto.seal_answers({"body": "The ministry denies the detention."}, key.public_key)
    response = client.post(
        f"/referrals/{referral.id}/un-step",
        data={
            "step": "reply_received",
            "at": _local(1),
            "sealed_summary": summary,
            "org_key_id": str(key.id),
        },
    )
    assert response.status_code == 409  # a conflict with what a colleague did, not a bad form
    page = response.get_data(as_text=True)
    assert (
        "Not recorded: this referral has moved on since you opened the page. Its latest step "
        "is “Government reply received”. Nothing was saved."
    ) in page
    assert "data-refused-summary" in page
    assert f'data-sealed-summary="{summary}"' in page
    assert "The summary you wrote, not saved" in page
    db.session.expire_all()
    kinds = [kind.value for kind in db.session.scalars(sa.select(UnStep.kind))]
    assert kinds == ["submitted", "communication_sent", "reply_received"]
    assert db.session.scalars(sa.select(UnStep.sealed_summary)).all()[-1] is None  # not ours


def test_a_step_refused_while_still_offered_is_said_in_its_own_form(web: Flask) -> None:
    """A refusal of a step the page still offers (a type of communication not on the list)
    stays inside that step's form, which opens there."""
    referral = draft_un_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    response = client.post(
        f"/referrals/{referral.id}/un-step",
        data={"step": "submitted", "at": _local(40), "channel": "online_form"},
    )
    assert response.status_code == 303
    response = client.post(
        f"/referrals/{referral.id}/un-step",
        data={"step": "communication_sent", "at": _local(2), "communication_type": "telegram"},
    )
    page = response.get_data(as_text=True)
    assert "has moved on" not in page
    assert "data-refused-summary" not in page
    form = page[page.index('id="step-communication_sent"') :]
    assert form.index("data-step-error") < form.index("</form>")


@pytest.mark.browser
def test_in_chromium_the_refused_summary_comes_back_readable(
    app: Flask, live_server: Any, page: Any
) -> None:
    """The second colleague's typed summary is shown back decrypted, to copy; nothing of it
    was stored."""
    base = live_server.url
    org = make_org_key()
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="un-late@example.org")
    referral = sent_referral(org=org, owner=user)
    path = f"/referrals/{referral.id}"
    steps.sign_in_as(page, base, user, path)
    page.goto(f"{base}{path}")
    steps.unlock_in_header(page)
    form = "form[data-un-reply-form]"
    page.click("details:has(form[data-un-reply-form]) > summary")
    page.wait_for_selector(f"{form} [data-un-summary]:enabled", timeout=30_000)
    page.fill(f"{form} [data-un-summary]", SUMMARY)
    un_steps.record(referral.id, UnStepKind.REPLY_RECEIVED, user)  # a colleague, meanwhile
    db.session.commit()
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")
    refused = page.locator("[data-step-error]")
    assert "has moved on since you opened the page" in refused.inner_text()
    shown = page.locator("[data-refused-summary] [data-summary-text]")
    shown.wait_for(state="visible", timeout=30_000)
    assert shown.inner_text() == SUMMARY
    assert page.evaluate("document.activeElement.hasAttribute('data-step-error')")
    db.session.expire_all()
    replies = db.session.scalars(
        sa.select(UnStep).where(UnStep.kind == UnStepKind.REPLY_RECEIVED)
    ).all()
    assert [reply.sealed_summary for reply in replies] == [None]  # the colleague's alone
