"""Which referral states still await a reply, their deadline running, is models.referral.AWAITING.
Templates ask the referral (``referral.is_awaiting``) rather than naming the states again:
/referrals, a referral's page and the case page each wrote ('draft', 'sent', 'acknowledged')
out for themselves, and the UN steps a part of it."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import AWAITING, Referral, ReferralKind, ReferralState, Role
from tests.builders import sign_in
from tests.referrals.conftest import sent_referral

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# `in ('sent', …` or `in ("draft", …`: a tuple of referral states written in a template.
_STATE_NAMES = "|".join(state.value for state in ReferralState)
STATES_WRITTEN_OUT = re.compile(rf"""\bin\s*\(\s*['"](?:{_STATE_NAMES})['"]\s*,""")


def test_no_template_names_the_awaiting_states_itself() -> None:
    written_out = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if STATES_WRITTEN_OUT.search(line)
    ]
    assert not written_out


@pytest.mark.parametrize("state", list(ReferralState))
def test_a_referral_is_awaiting_exactly_in_the_awaiting_states(state: ReferralState) -> None:
    assert Referral(state=state).is_awaiting is (state in AWAITING)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize("state", list(ReferralState))
def test_every_page_says_the_deadline_runs_exactly_while_the_referral_awaits_a_reply(
    web: Flask, state: ReferralState
) -> None:
    # Sent 30 days ago to an organisation that answers in 14: due 16 days ago.
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=utcnow() - timedelta(days=30))
    referral.state = state
    db.session.commit()
    running = state in AWAITING
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)

    detail = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    label = re.search(r"<dt data-deadline-label>(.*?)</dt>", detail, re.S)
    assert label is not None
    assert _text(label.group(1)) == ("Deadline" if running else "Was due")
    assert ("data-overdue" in detail) is running

    case_page = client.get(f"/cases/{referral.case.ref}").get_data(as_text=True)
    listed = re.search(r'<ul class="referral-list".*?</ul>', case_page, re.S)
    assert listed is not None
    assert ("· was due" in _text(listed.group(0))) is not running

    listing = client.get("/referrals/?view=all").get_data(as_text=True)
    assert ("data-clock-stopped" in listing) is not running
    assert ("badge-overdue" in listing) is running
