"""A closed case is not taken on: neither its page nor the queue offers "Assign to me", and
the assign route refuses it with a message, writing nothing. It is reopened first."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import Case, CaseStatus, Role
from tests.builders import OrgKeyPair, give_key, make_case, make_org_key, make_user, sign_in
from tests.conftest import table_count


def csrf_of(client: FlaskClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def org(app: Flask) -> OrgKeyPair:
    return make_org_key()


def test_a_closed_case_offers_no_assignment_on_its_page_or_in_the_queue(
    client: FlaskClient, org: OrgKeyPair
) -> None:
    give_key(sign_in(client, Role.CASEWORKER), org)
    closed = make_case(org, ref="RF-CLOSED", status=CaseStatus.CLOSED, outcome="resolved")
    still_open = make_case(org, ref="RF-OPEN", status=CaseStatus.ASSESSING)
    db.session.commit()
    page = client.get(f"/cases/{closed.ref}").get_data(as_text=True)
    assert "data-assign-me" not in page
    assert f'action="/cases/{closed.ref}/assign"' not in page
    # An open case nobody holds still offers both.
    page = client.get(f"/cases/{still_open.ref}").get_data(as_text=True)
    assert "data-assign-me" in page
    assert f'action="/cases/{still_open.ref}/assign"' in page

    queue = client.get("/cases/?view=all").get_data(as_text=True)
    assert 'data-ref="RF-CLOSED"' in queue
    assert "/cases/RF-CLOSED/assign" not in queue
    assert "/cases/RF-OPEN/assign" in queue


@pytest.mark.parametrize("assignee", ["me", "colleague", ""])
def test_assigning_a_closed_case_is_refused_with_a_message_and_writes_nothing(
    client: FlaskClient, org: OrgKeyPair, assignee: str
) -> None:
    me = give_key(sign_in(client, Role.CASEWORKER), org)
    holder = give_key(make_user(Role.CASEWORKER), org)
    colleague = give_key(make_user(Role.ADMIN), org)
    closed = make_case(org, status=CaseStatus.CLOSED, outcome="resolved", assignee_id=holder.id)
    db.session.commit()
    token = csrf_of(client, f"/cases/{closed.ref}")
    before = table_count("audit_events")
    value = str(colleague.id) if assignee == "colleague" else assignee
    response = client.post(
        f"/cases/{closed.ref}/assign", data={"assignee": value, "csrf_token": token}
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This case is closed: reopen it before assigning it. Nothing was changed." in html
    assert "flash-success" not in html
    db.session.expire_all()
    assert db.session.get_one(Case, closed.id).assignee_id == holder.id
    assert table_count("audit_events") == before
    assert me.id != holder.id


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("zh_Hant", "此案件已結案：請先重新開啟，再指派。未做任何變更。"),
        ("zh_Hans", "此案件已结案：请先重新打开，再指派。未做任何变更。"),
    ],
)
def test_the_refusal_is_said_in_chinese(
    client: FlaskClient, org: OrgKeyPair, locale: str, words: str
) -> None:
    give_key(sign_in(client, Role.CASEWORKER), org)
    closed = make_case(org, status=CaseStatus.CLOSED, outcome="resolved")
    db.session.commit()
    token = csrf_of(client, f"/cases/{closed.ref}")
    response = client.post(
        f"/cases/{closed.ref}/assign?lang={locale}", data={"assignee": "me", "csrf_token": token}
    )
    assert response.status_code == 409
    assert words in response.get_data(as_text=True)


def test_a_reopened_case_can_be_taken_on_again(client: FlaskClient, org: OrgKeyPair) -> None:
    me = give_key(sign_in(client, Role.CASEWORKER), org)
    closed = make_case(org, status=CaseStatus.CLOSED, outcome="resolved")
    db.session.commit()
    token = csrf_of(client, f"/cases/{closed.ref}")
    reopened = client.post(
        f"/cases/{closed.ref}/status", data={"status": "assessing", "csrf_token": token}
    )
    assert reopened.status_code == 303
    page = client.get(f"/cases/{closed.ref}").get_data(as_text=True)
    assert "data-assign-me" in page
    response = client.post(
        f"/cases/{closed.ref}/assign", data={"assignee": "me", "csrf_token": token}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get_one(Case, closed.id).assignee_id == me.id


def test_a_closed_case_says_where_the_assign_control_went_and_names_reopening(
    client: FlaskClient, org: OrgKeyPair
) -> None:
    give_key(sign_in(client, Role.CASEWORKER), org)
    closed = make_case(org, status=CaseStatus.CLOSED, outcome="resolved")
    referred = make_case(org, status=CaseStatus.REFERRED)
    db.session.commit()
    page = client.get(f"/cases/{closed.ref}").get_data(as_text=True)
    assert '<p class="hint" data-assign-closed>Reopen the case to assign it.</p>' in page
    options = re.search(r'<select id="status-to".*?</select>', page, re.S)
    assert options is not None
    assert '<option value="assessing">Reopen (Assessing)</option>' in options.group(0)
    # An open case: the assign control is there, and stepping back to assessing is just that.
    page = client.get(f"/cases/{referred.ref}").get_data(as_text=True)
    assert "data-assign-closed" not in page
    assert '<option value="assessing">Assessing</option>' in page
    assert "Reopen (" not in page


def test_a_viewer_of_a_closed_case_is_not_told_to_reopen_it(
    client: FlaskClient, org: OrgKeyPair
) -> None:
    give_key(sign_in(client, Role.VIEWER), org)
    closed = make_case(org, status=CaseStatus.CLOSED, outcome="resolved")
    db.session.commit()
    page = client.get(f"/cases/{closed.ref}").get_data(as_text=True)
    assert "data-assign-closed" not in page
    assert "Reopen (" not in page


@pytest.mark.parametrize(
    ("locale", "hint", "option"),
    [
        ("zh_Hant", "請先重新開啟案件，才能指派。", "重新開啟（評估中）"),
        ("zh_Hans", "请先重新打开案件，才能指派。", "重新打开（评估中）"),
    ],
)
def test_the_reopen_wording_is_translated(
    client: FlaskClient, org: OrgKeyPair, locale: str, hint: str, option: str
) -> None:
    give_key(sign_in(client, Role.CASEWORKER), org)
    closed = make_case(org, status=CaseStatus.CLOSED, outcome="resolved")
    db.session.commit()
    page = client.get(f"/cases/{closed.ref}?lang={locale}").get_data(as_text=True)
    assert hint in page
    assert option in page
