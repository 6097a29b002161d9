"""Two staff take the same case: the second is told, and nothing changes.

A reviewer had two colleagues on the queue's Unassigned tab, both seeing "Nobody". A clicked
"Assign to me", then B did on the same row: B read a green "Assigned to B (it was with A)" and A
was never told. Every assign form now carries the holder its page showed (``from_assignee``),
and casework.assign refuses when the holder changed meanwhile, as status changes already do."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from intake.cases.wording import address_markup
from intake.extensions import db
from intake.models import AuditEvent, Case, Role, User
from intake.services import casework
from intake.services.casework import CaseworkError, HolderChanged
from tests.builders import OrgKeyPair, give_key, make_case, make_org_key, make_user, sign_in
from tests.conftest import table_count


def assign_events() -> list[dict[str, int | None]]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.detail)
            .where(AuditEvent.action == "case.assign")
            .order_by(AuditEvent.id)
        )
    )


def holder_of(case: Case) -> int | None:
    db.session.expire_all()
    return db.session.get_one(Case, case.id).assignee_id


# --- the service ------------------------------------------------------------------------------


def test_of_two_assignments_from_the_same_seen_holder_the_second_is_refused(
    any_app: Flask,
) -> None:
    org = make_org_key()
    case = make_case(org)
    first, second = give_key(make_user(), org), give_key(make_user(), org)
    casework.assign(case, first.id, first, expected=None)
    with pytest.raises(HolderChanged) as refused:
        casework.assign(case, second.id, second, expected=None)  # B's page still said "Nobody"
    assert (refused.value.status, refused.value.holder_id) == (409, first.id)
    assert holder_of(case) == first.id
    assert assign_events() == [{"from_user_id": None, "to_user_id": first.id}]


@pytest.mark.parametrize("seen", ["nobody", "not said"])
def test_a_colleague_committing_meanwhile_is_not_overwritten_even_unchecked(
    any_app: Flask, seen: str
) -> None:
    """Both requests read "Nobody" before either wrote: the compare-and-set lets one land,
    whether or not the request said what its page showed."""
    org = make_org_key()
    case = make_case(org)
    first, second = give_key(make_user(), org), give_key(make_user(), org)
    assert case.assignee_id is None  # loaded in this request's session
    # A colleague's request commits its assignment on another connection meanwhile.
    with db.engine.begin() as colleague:
        colleague.execute(sa.update(Case).where(Case.id == case.id).values(assignee_id=first.id))
    assert case.assignee_id is None  # this request still sees what it loaded
    expected = None if seen == "nobody" else casework.UNSEEN
    with pytest.raises(HolderChanged) as refused:
        casework.assign(case, second.id, second, expected=expected)
    assert (refused.value.status, refused.value.holder_id) == (409, first.id)
    assert holder_of(case) == first.id
    assert assign_events() == []


def test_a_double_click_is_no_conflict_and_an_unchecked_request_still_assigns(
    any_app: Flask,
) -> None:
    org = make_org_key()
    case = make_case(org)
    me, colleague = give_key(make_user(), org), give_key(make_user(), org)
    casework.assign(case, me.id, me, expected=None)
    casework.assign(case, me.id, me, expected=None)  # already mine: nothing to take from anyone
    casework.assign(case, colleague.id, me)  # a page drawn before the field: accepted
    assert holder_of(case) == colleague.id
    assert [e["to_user_id"] for e in assign_events()] == [me.id, colleague.id]
    with pytest.raises(CaseworkError):
        casework.assign(case, None, me, expected=me.id)
    assert holder_of(case) == colleague.id


# --- the pages --------------------------------------------------------------------------------


@pytest.fixture
def org(app: Flask) -> OrgKeyPair:
    return make_org_key()


def page_of(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def assign_forms(html: str, ref: str) -> list[dict[str, str]]:
    """Each form of the page that posts to the case's assign route, as the fields it sends."""
    forms = re.findall(rf'<form method="post" action="/cases/{ref}/assign".*?</form>', html, re.S)
    sent = []
    for form in forms:
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
        button = re.search(r'<button type="submit" name="assignee" value="([^"]*)"', form)
        if button:
            fields["assignee"] = button.group(1)
        sent.append(fields)
    return sent


def staff_pair(app: Flask, org: OrgKeyPair) -> tuple[FlaskClient, User, FlaskClient, User]:
    a_client, b_client = app.test_client(), app.test_client()
    a = give_key(sign_in(a_client, Role.CASEWORKER), org)
    b = give_key(sign_in(b_client, Role.CASEWORKER), org)
    db.session.commit()
    return a_client, a, b_client, b


def refused_for_b(response: TestResponse, a: User) -> str:
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert f"While you had this case open, it was assigned to {a.email}." in html
    assert "Nothing was changed" in html
    assert "flash-success" not in html
    # The page shows who holds it now.
    assert f"<span data-assignee>{address_markup(a.email)}</span>" in html
    return html


def test_assign_to_me_on_a_row_a_colleague_just_took_is_refused_and_says_who_has_it(
    app: Flask, org: OrgKeyPair
) -> None:
    case = make_case(org)
    a_client, a, b_client, b = staff_pair(app, org)
    a_form = assign_forms(page_of(a_client, "/cases/?view=unassigned"), case.ref)
    b_form = assign_forms(page_of(b_client, "/cases/?view=unassigned"), case.ref)
    assert [f["from_assignee"] for f in a_form + b_form] == ["", ""]
    taken = a_client.post(f"/cases/{case.ref}/assign", data=a_form[0])
    assert taken.status_code == 303
    html = refused_for_b(b_client.post(f"/cases/{case.ref}/assign", data=b_form[0]), a)
    # B's choice is kept in the list, ready to confirm if the case should still move.
    assert re.search(rf'<option selected value="{b.id}">', html)
    assert holder_of(case) == a.id
    assert assign_events() == [{"from_user_id": None, "to_user_id": a.id}]


def test_every_assign_form_of_the_case_page_carries_the_holder_and_a_stale_one_is_refused(
    app: Flask, org: OrgKeyPair
) -> None:
    case = make_case(org)
    a_client, a, b_client, b = staff_pair(app, org)
    colleague = give_key(make_user(Role.ADMIN), org)
    b_forms = assign_forms(page_of(b_client, f"/cases/{case.ref}"), case.ref)
    assert len(b_forms) == 2  # "Assign to me" and "Assign to"
    assert all(form["from_assignee"] == "" for form in b_forms)
    a_forms = assign_forms(page_of(a_client, f"/cases/{case.ref}"), case.ref)
    assert a_client.post(f"/cases/{case.ref}/assign", data=a_forms[0]).status_code == 303
    for stale in ({**b_forms[0]}, {**b_forms[1], "assignee": str(colleague.id)}):
        refused_for_b(b_client.post(f"/cases/{case.ref}/assign", data=stale), a)
    assert holder_of(case) == a.id
    # The page drawn now carries the new holder: choosing again is a deliberate handover.
    fresh = assign_forms(page_of(b_client, f"/cases/{case.ref}"), case.ref)
    assert [form["from_assignee"] for form in fresh] == [str(a.id), str(a.id)]
    handed = b_client.post(f"/cases/{case.ref}/assign", data=fresh[0], follow_redirects=True)
    assert f"Assigned to {b.email} (it was with {a.email})." in handed.get_data(as_text=True)
    assert [e["to_user_id"] for e in assign_events()] == [a.id, b.id]


def test_a_case_unassigned_meanwhile_is_said_as_such(app: Flask, org: OrgKeyPair) -> None:
    a_client, a, b_client, b = staff_pair(app, org)
    case = make_case(org, assignee_id=a.id)
    db.session.commit()
    b_forms = assign_forms(page_of(b_client, f"/cases/{case.ref}"), case.ref)
    assert b_forms[0]["from_assignee"] == str(a.id)
    a_forms = assign_forms(page_of(a_client, f"/cases/{case.ref}"), case.ref)
    unassign = {**a_forms[-1], "assignee": ""}  # the "Assign to" list, on "Nobody"
    assert a_client.post(f"/cases/{case.ref}/assign", data=unassign).status_code == 303
    response = b_client.post(f"/cases/{case.ref}/assign", data=b_forms[0])
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "someone unassigned it: nobody is assigned to it now. Nothing was changed" in html
    assert holder_of(case) is None
    assert b.id != a.id


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("zh_Hant", "在你開啟此案件期間，它已指派給 {email}。未做任何變更"),
        ("zh_Hans", "在你打开此案件期间，它已指派给 {email}。未做任何变更"),
    ],
)
def test_the_refusal_is_said_in_the_readers_language(
    app: Flask, org: OrgKeyPair, locale: str, words: str
) -> None:
    case = make_case(org)
    a_client, a, b_client, _b = staff_pair(app, org)
    b_form = assign_forms(page_of(b_client, "/cases/?view=unassigned"), case.ref)[0]
    a_form = assign_forms(page_of(a_client, "/cases/?view=unassigned"), case.ref)[0]
    assert a_client.post(f"/cases/{case.ref}/assign", data=a_form).status_code == 303
    response = b_client.post(f"/cases/{case.ref}/assign?lang={locale}", data=b_form)
    assert response.status_code == 409
    assert words.format(email=a.email) in response.get_data(as_text=True)


def test_a_post_without_the_holder_it_saw_is_still_accepted(
    app: Flask, client: FlaskClient, org: OrgKeyPair
) -> None:
    """A tab drawn before the field existed: refusing it would say "someone changed this case"
    when nobody may have. It assigns as before (and the compare-and-set still holds)."""
    holder = give_key(make_user(), org)
    me = give_key(sign_in(client, Role.CASEWORKER), org)
    case = make_case(org, assignee_id=holder.id)
    db.session.commit()
    token = assign_forms(page_of(client, f"/cases/{case.ref}"), case.ref)[0]["csrf_token"]
    response = client.post(
        f"/cases/{case.ref}/assign", data={"assignee": "me", "csrf_token": token}
    )
    assert response.status_code == 303
    assert holder_of(case) == me.id


def test_the_csrf_token_is_still_required(app: Flask, client: FlaskClient, org: OrgKeyPair) -> None:
    give_key(sign_in(client, Role.CASEWORKER), org)
    case = make_case(org)
    db.session.commit()
    form = assign_forms(page_of(client, f"/cases/{case.ref}"), case.ref)[0]
    before = table_count("audit_events")
    for token in (None, "forged"):
        data = {k: v for k, v in form.items() if k != "csrf_token"}
        if token:
            data["csrf_token"] = token
        assert client.post(f"/cases/{case.ref}/assign", data=data).status_code == 400
    assert holder_of(case) is None
    assert table_count("audit_events") == before


@pytest.mark.parametrize(
    "seen",
    ["x", "-1", "9" * 30, "99999999999999999999999", "１", "1.5", "1 OR 1=1", ["", "1"]],
)
def test_a_malformed_seen_holder_is_refused_with_a_message_never_a_500(
    app: Flask, client: FlaskClient, org: OrgKeyPair, seen: str | list[str]
) -> None:
    give_key(sign_in(client, Role.CASEWORKER), org)
    case = make_case(org)
    db.session.commit()
    form = assign_forms(page_of(client, f"/cases/{case.ref}"), case.ref)[0]
    before = table_count("audit_events")
    response = client.post(f"/cases/{case.ref}/assign", data={**form, "from_assignee": seen})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The request could not be understood. Nothing was changed." in html
    assert holder_of(case) is None
    assert table_count("audit_events") == before
