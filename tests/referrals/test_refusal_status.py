"""A refused change of a referral answers what the service says: 409 when it conflicts with
what happened meanwhile (a stale page: a colleague moved the referral, or its case was closed,
after the page was read), with the service's message; 422 for a form that cannot be carried
out. The referral page answered 422 to both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import CaseStatus, Referral, ReferralKind, ReferralState, Role
from intake.services import referrals
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_user,
    sign_in,
)
from tests.referrals.conftest import RECEIVED_BEFORE, sent_referral

STALE = "someone changed it while you had it open. Nothing was changed."
CLOSED = "This case was closed, perhaps by a colleague while you had this page open."


def state_of(referral_id: int) -> ReferralState:
    db.session.expire_all()
    return db.session.get_one(Referral, referral_id).state


def test_a_change_a_colleague_made_first_is_a_409_with_the_services_message(web: Flask) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL)
    colleague = referral.owner
    assert colleague is not None
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    # The colleague records the reply while this page still offers "No reply".
    referrals.transition(referral.id, "reply", colleague)
    response = client.post(f"/referrals/{referral.id}/transition", data={"action": "no_reply"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert f"This referral is now “Replied”: {STALE}" in page
    assert 'class="flash flash-error"' in page  # the page as before, said at the top
    assert state_of(referral.id) == ReferralState.REPLIED


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"action": "no_such_action"}, "Check the form"),
        ({"action": ""}, "Check the form"),
        ({"action": "reply", "at": "not a date"}, "Check the form"),
        ({"action": "reply", "at": "1999-01-01T10:00"}, "long before this referral existed"),
        (
            {"action": "reply", "at": (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")},
            "cannot be in the future",
        ),
        ({"action": "reply", "outcome": "declined"}, "An outcome is recorded only when"),
    ],
)
def test_a_form_that_cannot_be_carried_out_stays_422(
    web: Flask, data: dict[str, str], said: str
) -> None:
    referral = sent_referral(ReferralKind.NGO_REFERRAL)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    response = client.post(f"/referrals/{referral.id}/transition", data=data)
    assert response.status_code == 422, data
    assert said in response.get_data(as_text=True)
    assert state_of(referral.id) == ReferralState.SENT


def draft_on_a_closed_case() -> tuple[Referral, OrgKeyPair]:
    org = make_org_key()
    make_entry("test-ngo")
    owner = give_key(make_user(Role.CASEWORKER), org)
    case = make_case(org, received_at=utcnow() - RECEIVED_BEFORE)
    referral = referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, owner)
    case.status = CaseStatus.CLOSED  # by a colleague, while the referral's page was open
    db.session.commit()
    return referral, org


def test_sending_from_a_case_closed_meanwhile_is_a_409(web: Flask) -> None:
    referral, _org = draft_on_a_closed_case()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    response = client.post(f"/referrals/{referral.id}/transition", data={"action": "send"})
    assert response.status_code == 409
    assert CLOSED in response.get_data(as_text=True)
    assert state_of(referral.id) == ReferralState.DRAFT


def test_starting_a_referral_on_a_case_closed_meanwhile_is_a_409(web: Flask) -> None:
    referral, org = draft_on_a_closed_case()
    ref = referral.case.ref
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    make_entry("other-ngo")
    response = client.post(
        f"/referrals/new?ref={ref}",
        data={"entry_id": "other-ngo", "kind": "ngo_referral", "owner_id": user.id},
    )
    assert response.status_code == 409
    assert CLOSED in response.get_data(as_text=True)
    # A form the service cannot carry out is still 422: an entry not in the directory.
    response = client.post(
        f"/referrals/new?ref={ref}",
        data={"entry_id": "no-such-entry", "kind": "ngo_referral", "owner_id": user.id},
    )
    assert response.status_code == 422
