"""A referral to a UN mechanism has two clocks (DESIGN §5): before the UN writes to the
government, its date is when to check with the mandate; from the communication it is the
government's reply deadline. The queue and the case page said "government reply" for both,
so a caseworker read a 30-day check-in as the government's 60 days."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseStatus, Referral, ReferralKind, Role, User
from intake.models import UnStepKind as Step
from intake.services import referrals, un_steps
from tests.builders import give_key, make_case, make_entry, make_org_key, make_user, sign_in


def _row_text(client: FlaskClient, ref: str) -> str:
    html = client.get("/cases/?view=all").get_data(as_text=True)
    found = re.search(rf'<tr class="case-row[^"]*" data-ref="{ref}">(.*?)</tr>', html, re.S)
    assert found is not None
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def _next_action_text(client: FlaskClient, ref: str) -> str:
    html = client.get(f"/cases/{ref}").get_data(as_text=True)
    found = re.search(r'<p class="next-what">(.*?)</p>', html, re.S)
    assert found is not None
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def _un_referral(days_ago: int) -> tuple[User, Case, Referral]:
    """A referred case with an urgent appeal submitted to the mandate ``days_ago`` days ago."""
    org = make_org_key()
    make_entry("sr-hrd", name="SR on human rights defenders")
    owner = give_key(make_user(Role.CASEWORKER), org)
    case = make_case(
        org,
        status=CaseStatus.REFERRED,
        assignee_id=owner.id,
        received_at=utcnow() - timedelta(days=400),  # before every step dated here
    )
    referral = referrals.create(
        case.id, "sr-hrd", ReferralKind.SP_URGENT_APPEAL, owner, owner_id=owner.id
    )
    un_steps.record(referral.id, Step.SUBMITTED, owner, at=utcnow() - timedelta(days=days_ago))
    db.session.commit()
    return owner, case, referral


def _communicated(referral: Referral, owner: User, days_ago: int) -> None:
    """The mandate wrote to the government ``days_ago`` days ago: its clock starts."""
    un_steps.record(
        referral.id,
        Step.COMMUNICATION_SENT,
        owner,
        at=utcnow() - timedelta(days=days_ago),
        fields=un_steps.StepFields(communication_type="urgent_appeal"),
    )
    db.session.commit()


def test_before_the_communication_the_date_is_a_check_with_the_mandate(any_app: Flask) -> None:
    owner, case, referral = _un_referral(days_ago=70)
    client = any_app.test_client()
    sign_in(client, owner)
    # Submitted 70 days ago, nothing sent to the government: the 30-day check is overdue.
    row = _row_text(client, case.ref)
    assert "Check with the mandate — referral to SR on human rights defenders" in row
    assert "Reply due from the government" not in row
    page = _next_action_text(client, case.ref)
    assert "nothing sent to the government yet: check with the mandate by" in page
    assert "the government's reply due" not in page
    # What to do, in the queue row's words (the case page named the kind and the state).
    assert page.startswith("Check with the mandate — referral to SR on human rights defenders —")

    # The mandate wrote to the government 57 days ago: its 60 days end in three.
    _communicated(referral, owner, days_ago=57)
    row = _row_text(client, case.ref)
    assert "Reply due from the government — referral to SR on human rights defenders" in row
    assert "Check with the mandate" not in row
    page = _next_action_text(client, case.ref)
    assert "the government's reply due" in page
    assert "check with the mandate" not in page
    assert page.startswith(
        "Reply due from the government — referral to SR on human rights defenders —"
    )


def test_an_organisations_referral_keeps_its_plain_due_date(any_app: Flask) -> None:
    org = make_org_key()
    make_entry("ngo-x", name="NGO X")
    owner = give_key(make_user(Role.CASEWORKER), org)
    case = make_case(
        org,
        status=CaseStatus.REFERRED,
        assignee_id=owner.id,
        received_at=utcnow() - timedelta(days=400),  # before every step dated here
    )
    referral = referrals.create(
        case.id, "ngo-x", ReferralKind.NGO_REFERRAL, owner, owner_id=owner.id
    )
    referrals.transition(referral.id, "send", owner, at=utcnow() - timedelta(days=20))
    db.session.commit()
    client = any_app.test_client()
    sign_in(client, owner)
    assert "Answer due from NGO X" in _row_text(client, case.ref)
    page = _next_action_text(client, case.ref)
    assert page.startswith("Answer due from NGO X — ")
    assert "due " in page
    assert "mandate" not in page
    assert "government" not in page


def test_the_referral_list_says_which_clock_a_un_date_is(any_app: Flask) -> None:
    """In /referrals (list and timeline) the kind "urgent appeal (government reply: 60 days)"
    stood beside a date that was the check with the mandate (a reviewer, 2026-12-04)."""
    owner, _case, referral = _un_referral(days_ago=10)
    client = any_app.test_client()
    sign_in(client, owner)
    for view in ("view=all", "view=timeline"):
        html = client.get(f"/referrals/?{view}").get_data(as_text=True)
        assert 'data-un-clock="follow_up">check with the mandate<' in html, view
    _communicated(referral, owner, days_ago=2)
    for view in ("view=all", "view=timeline"):
        html = client.get(f"/referrals/?{view}").get_data(as_text=True)
        assert 'data-un-clock="reply">the government\'s reply<' in html, view
        assert "check with the mandate" not in html
