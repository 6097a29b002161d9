"""Closing a case whose referrals still await a reply is confirmed first (cases/close_confirm.html).

Closing the case does not close its referrals: their deadlines and reminders go on. So the
status change first shows them — kind, to whom, due or overdue, each linked — and says so; only
the confirmation's post closes the case. A case with nothing awaiting closes at once, as before.
Nothing is written before the confirmation, and a hostile post is answered without a 500."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseStatus, Referral, ReferralKind, ReferralState, Role, User
from intake.services import referrals
from tests.builders import OrgKeyPair, give_key, make_entry, make_org_key, sign_in
from tests.conftest import Untranslated, table_count
from tests.referrals.conftest import sent_referral


def csrf_of(client: FlaskClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


class Desk:
    def __init__(
        self,
        client: FlaskClient,
        me: User,
        org: OrgKeyPair,
        case: Case,
        held: dict[str, Referral],
    ) -> None:
        self.client, self.me, self.case, self.referrals = client, me, case, held
        self.org = org
        self.refresh_token()

    def refresh_token(self) -> None:
        """The session's CSRF token, read once: opening the case page is itself audited."""
        self.token = csrf_of(self.client, f"/cases/{self.case.ref}")

    def post(self, **data: Any) -> Any:
        form = {"csrf_token": self.token, **data}
        return self.client.post(f"/cases/{self.case.ref}/status", data=form)

    def close(self, **data: Any) -> Any:
        return self.post(status="closed", outcome="resolved", from_status="referred", **data)

    def state(self) -> tuple[CaseStatus, int]:
        db.session.expire_all()
        return db.session.get_one(Case, self.case.id).status, table_count("audit_events")


@pytest.fixture
def desk(app: Flask) -> Desk:
    """A referred case with an overdue sent referral, an acknowledged one not yet due, and a
    withdrawn one (which awaits nothing)."""
    org: OrgKeyPair = make_org_key()
    client = app.test_client()
    me = give_key(sign_in(client, Role.CASEWORKER), org)
    overdue = sent_referral(
        ReferralKind.NGO_REFERRAL, sent_at=utcnow() - timedelta(days=60), owner=me, org=org
    )
    case = db.session.get_one(Case, overdue.case_id)
    # Each to an entry of its own: a case is referred to an entry once while that is open.
    make_entry("second-ngo")
    make_entry("third-ngo")
    acknowledged = referrals.create(
        case.id, "second-ngo", ReferralKind.NGO_REFERRAL, me, owner_id=me.id
    )
    referrals.transition(acknowledged.id, "send", me)
    referrals.transition(acknowledged.id, "acknowledge", me)
    withdrawn = referrals.create(
        case.id, "third-ngo", ReferralKind.NGO_REFERRAL, me, owner_id=me.id
    )
    referrals.transition(withdrawn.id, "send", me)
    referrals.transition(withdrawn.id, "withdraw", me)
    db.session.refresh(case)
    assert case.status == CaseStatus.REFERRED
    held = {"overdue": overdue, "acknowledged": acknowledged, "withdrawn": withdrawn}
    return Desk(client, me, org, case, held)


def test_closing_asks_first_and_lists_the_referrals_still_awaiting_a_reply(desk: Desk) -> None:
    before = desk.state()
    response = desk.close()
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"Close case {desk.case.ref}?" in html
    assert "Nothing has changed yet. The case would close with the outcome “Resolved”." in html
    assert "2 referrals of this case still await a reply" in html
    listed = re.findall(r'data-awaiting-referral="(\d+)"', html)
    # Nearest deadline first: the overdue one leads; the withdrawn one awaits nothing.
    assert listed == [str(desk.referrals["overdue"].id), str(desk.referrals["acknowledged"].id)]
    for name in ("overdue", "acknowledged"):
        assert f'href="/referrals/{desk.referrals[name].id}"' in html
    assert "Referral to an organisation" in html
    assert "referral to " in html
    assert html.count("data-overdue") == 1
    assert "Their deadlines and reminders continue until each referral is closed or withdrawn" in (
        html
    )
    assert "Close the case anyway" in html
    assert f'id="keep-open" href="/cases/{desk.case.ref}"' in html
    # The confirmation carries what was chosen, and "confirmed".
    form = re.search(r'<form method="post" action="([^"]+)".*?</form>', html, re.S)
    assert form is not None
    assert form.group(1) == f"/cases/{desk.case.ref}/status"
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(0)))
    assert fields.pop("csrf_token")
    assert fields == {
        "from_status": "referred",
        "status": "closed",
        "outcome": "resolved",
        "confirmed": "yes",
    }
    assert desk.state() == before


def test_a_draft_is_listed_as_not_sent_not_as_awaiting_a_reply(desk: Desk) -> None:
    """A draft was listed under "still awaits a reply", then promised deadlines and reminders
    it does not have (a review in Chromium)."""
    draft = referrals.create(
        desk.case.id, "third-ngo", ReferralKind.NGO_REFERRAL, desk.me, owner_id=desk.me.id
    )
    html = desk.close().get_data(as_text=True)
    assert "2 referrals of this case still await a reply" in html
    awaiting = html[html.index("data-awaiting-referrals") : html.index("</ul>")]
    assert f'data-awaiting-referral="{draft.id}"' not in awaiting
    assert "1 referral of this case has not been sent yet" in html
    drafts = html[html.index("data-draft-referrals") :]
    assert f'data-awaiting-referral="{draft.id}"' in drafts[: drafts.index("</ul>")]
    assert "Their deadlines and reminders continue" in html
    assert "stays under “Not sent yet” until it is sent or withdrawn" in html

    # Only drafts: nothing said of replies, deadlines or reminders.
    for name in ("overdue", "acknowledged"):
        referrals.transition(desk.referrals[name].id, "withdraw", desk.me)
    html = desk.close().get_data(as_text=True)
    assert "await a reply" not in html
    assert "Their deadlines and reminders continue" not in html
    assert "1 referral of this case has not been sent yet" in html
    zh = desk.client.post(
        f"/cases/{desk.case.ref}/status?lang=zh_Hant",
        data={
            "csrf_token": desk.token,
            "status": "closed",
            "outcome": "resolved",
            "from_status": "referred",
        },
    ).get_data(as_text=True)
    assert "此案件有 1 項轉介尚未發送" in zh


def test_the_confirmation_closes_the_case_and_leaves_the_referrals_as_they_are(
    desk: Desk,
) -> None:
    response = desk.close(confirmed="yes")
    assert response.status_code == 303
    status, _ = desk.state()
    assert status == CaseStatus.CLOSED
    assert db.session.get_one(Case, desk.case.id).outcome is not None
    states = {name: db.session.get_one(Referral, r.id).state for name, r in desk.referrals.items()}
    assert states == {
        "overdue": ReferralState.SENT,
        "acknowledged": ReferralState.ACKNOWLEDGED,
        "withdrawn": ReferralState.WITHDRAWN,
    }


def test_a_case_with_nothing_awaiting_closes_at_once(desk: Desk) -> None:
    for name in ("overdue", "acknowledged"):
        referrals.transition(desk.referrals[name].id, "withdraw", desk.me)
    response = desk.close()
    assert response.status_code == 303
    assert desk.state()[0] == CaseStatus.CLOSED


def test_moving_elsewhere_is_not_asked_about(desk: Desk) -> None:
    response = desk.post(status="monitoring", from_status="referred")
    assert response.status_code == 303
    assert desk.state()[0] == CaseStatus.MONITORING


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        # A close the service would refuse is refused before anything is asked.
        ({"outcome": ""}, 400, "Choose an outcome to close the case. Nothing was changed."),
        ({"from_status": "assessing"}, 409, "Someone changed this case while you had it open."),
        ({"outcome": "not-an-outcome"}, 400, "Choose an outcome from the list."),
        # A second value of any field, "confirmed" too, is a request we do not guess at.
        ({"confirmed": ["yes", "yes"]}, 400, "The request could not be understood."),
        ({"status": ["closed", "closed"]}, 400, "The request could not be understood."),
    ],
    ids=["no_outcome", "stale", "unknown_outcome", "confirmed_twice", "status_twice"],
)
def test_a_refused_close_says_why_and_writes_nothing(
    desk: Desk, data: dict[str, Any], status: int, message: str
) -> None:
    before = desk.state()
    response = desk.post(
        **{"status": "closed", "outcome": "resolved", "from_status": "referred", **data}
    )
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert message in html
    assert "Close the case anyway" not in html
    assert desk.state() == before


@pytest.mark.parametrize("confirmed", ["", "no", "YES", "1", "yes please"])
def test_anything_but_the_confirmation_only_asks(desk: Desk, confirmed: str) -> None:
    before = desk.state()
    response = desk.close(confirmed=confirmed)
    assert response.status_code == 200
    assert "Close the case anyway" in response.get_data(as_text=True)
    assert desk.state() == before


def test_unknown_fields_change_nothing_of_the_question(desk: Desk) -> None:
    before = desk.state()
    response = desk.close(assignee="me", awaiting="0", force="1")
    assert response.status_code == 200
    assert "Close the case anyway" in response.get_data(as_text=True)
    assert desk.state() == before


@pytest.mark.parametrize("confirmed", [None, "yes"])
def test_without_a_csrf_token_nothing_is_written(desk: Desk, confirmed: str | None) -> None:
    before = desk.state()
    data = {"status": "closed", "outcome": "resolved", "from_status": "referred"}
    if confirmed:
        data["confirmed"] = confirmed
    response = desk.client.post(f"/cases/{desk.case.ref}/status", data=data)
    assert response.status_code == 400
    assert "Close the case anyway" not in response.get_data(as_text=True)
    assert desk.state() == before


def test_a_viewer_is_refused(desk: Desk) -> None:
    give_key(sign_in(desk.client, Role.VIEWER), desk.org)
    desk.refresh_token()
    before = desk.state()
    response = desk.close(confirmed="yes")
    assert response.status_code == 403
    assert desk.state() == before


@pytest.mark.parametrize(
    ("locale", "words"),
    [("zh_Hant", "仍然結案"), ("zh_Hans", "仍然结案")],
)
def test_the_confirmation_is_translated(
    desk: Desk, untranslated: Untranslated, locale: str, words: str
) -> None:
    desk.client.get(f"/cases/{desk.case.ref}?lang={locale}")
    untranslated.clear()
    html = desk.close().get_data(as_text=True)
    assert words in html
    assert not untranslated.messages, sorted(untranslated.messages)
