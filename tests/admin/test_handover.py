"""Deactivating a colleague says what they hold and hands it on (services/handover.py).

The confirmation lists their open cases and the referrals they own that still await a reply,
and asks who takes them. Deactivating then gives each to that colleague where they hold the
case's key, unassigns the open cases that remain (the queue's Unassigned view lists them), and
says where the reminders of what is left go: all in the deactivation's transaction, audited.
A bad choice is refused beside the field and writes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import AuditEvent, Case, CaseStatus, Referral, ReferralKind, Role, User
from intake.services import referrals
from tests.auth.helpers import csrf_token
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_staff_with_keys,
    make_user,
    sign_in,
)
from tests.conftest import Untranslated


@dataclass
class Desk:
    client: FlaskClient
    admin: User
    bob: User  # leaves
    alice: User  # holds the first key only
    cases: dict[str, Case]
    referrals: dict[str, Referral]


def _referral(case: Case, owner: User) -> Referral:
    return referrals.create(
        case.id, "test-ngo", ReferralKind.NGO_REFERRAL, owner, owner_id=owner.id
    )


@pytest.fixture
def desk(any_app: Flask) -> Desk:
    """bob holds three open cases (one sealed to a key alice does not hold) and a closed one;
    he owns two awaiting referrals (one on that case) and a withdrawn one."""
    org: OrgKeyPair = make_org_key()
    other: OrgKeyPair = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
    give_key(admin, other)
    bob, _ = make_staff_with_keys(Role.CASEWORKER, org, email="bob@example.org")
    give_key(bob, other)
    alice, _ = make_staff_with_keys(Role.CASEWORKER, org, email="alice@example.org")
    make_entry("test-ngo")
    cases = {
        "open": make_case(org, assignee_id=bob.id),
        "also_open": make_case(org, assignee_id=bob.id),
        "other_key": make_case(other, assignee_id=bob.id),
        "closed": make_case(org, assignee_id=bob.id, status=CaseStatus.CLOSED),
    }
    held = {
        "awaiting": _referral(cases["open"], bob),
        "other_key": _referral(cases["other_key"], bob),
        "withdrawn": _referral(cases["also_open"], bob),
    }
    referrals.transition(held["withdrawn"].id, "withdraw", bob)
    client = any_app.test_client()
    sign_in(client, admin)
    return Desk(client, admin, bob, alice, cases, held)


def deactivate(desk: Desk, **data: Any) -> Any:
    form = {"csrf_token": csrf_token(desk.client, "/admin/users"), **data}
    return desk.client.post(f"/admin/users/{desk.bob.id}/deactivate", data=form)


def holders(desk: Desk) -> dict[str, int | None]:
    db.session.expire_all()
    cases = {name: db.session.get_one(Case, c.id).assignee_id for name, c in desk.cases.items()}
    owners = {
        f"referral:{name}": db.session.get_one(Referral, r.id).owner_id
        for name, r in desk.referrals.items()
    }
    return cases | owners


def events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def audit_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0)


def options_of(html: str) -> list[str]:
    found = re.search(r'<select id="successor".*?</select>', html, re.S)
    assert found, "no choice of successor"
    return re.findall(r'<option value="([^"]*)"', found.group(0))


def test_the_confirmation_lists_what_they_hold_and_whom_it_can_go_to(desk: Desk) -> None:
    viewer = give_key(make_user(Role.VIEWER, email="viewer@example.org"), make_org_key())
    make_user(Role.CASEWORKER, email="keyless@example.org")
    gone, _ = make_staff_with_keys(Role.CASEWORKER, email="gone@example.org")
    gone.is_active_account = False
    db.session.commit()
    before = (holders(desk), audit_count())
    html = deactivate(desk).get_data(as_text=True)
    assert "Deactivate the account of bob@example.org?" in html
    assert "They hold 3 open cases" in html
    assert "They own 2 referrals awaiting a reply" in html
    assert "Give their open cases and awaiting referrals to:" in html
    # A placeholder first, nothing chosen; then who can act, by e-mail: never bob himself, a
    # viewer, someone without a key or a deactivated account; "Nobody" last, as a choice.
    assert options_of(html) == ["", str(desk.admin.id), str(desk.alice.id), "nobody"]
    assert '<option value="">— Choose —</option>' in html
    assert '<option value="nobody">Nobody: leave them unassigned</option>' in html
    assert str(viewer.id) not in options_of(html)
    select = re.search(r'<select id="successor".*?</select>', html, re.S)
    assert select is not None
    assert " selected" not in select.group(0)
    assert 'form="confirm-form"' in html
    assert (holders(desk), audit_count()) == before


def test_someone_who_holds_nothing_is_not_asked_whom_to_give_it_to(desk: Desk) -> None:
    html = desk.client.post(
        f"/admin/users/{desk.alice.id}/deactivate",
        data={"csrf_token": csrf_token(desk.client, "/admin/users")},
    ).get_data(as_text=True)
    assert "Deactivate the account of alice@example.org?" in html
    assert 'name="successor"' not in html
    assert "open case" not in html


def test_deactivating_with_a_colleague_gives_them_what_they_can_open(desk: Desk) -> None:
    response = deactivate(desk, confirmed="yes", successor=str(desk.alice.id))
    assert response.status_code == 302
    alice, bob = desk.alice.id, desk.bob.id
    assert holders(desk) == {
        "open": alice,
        "also_open": alice,
        "other_key": None,  # alice cannot open it: unassigned, so the queue lists it
        "closed": bob,  # closed cases and referrals keep who held them
        "referral:awaiting": alice,
        "referral:other_key": bob,
        "referral:withdrawn": bob,
    }
    assert not db.session.get_one(User, bob).is_active_account
    assigned = {
        (e.target_id, e.detail["from_user_id"], e.detail["to_user_id"], e.actor_id)
        for e in events("case.assign")
    }
    admin = desk.admin.id
    assert assigned == {
        (str(desk.cases["open"].id), bob, alice, admin),
        (str(desk.cases["also_open"].id), bob, alice, admin),
        (str(desk.cases["other_key"].id), bob, None, admin),
    }
    [changed] = events("referral.owner_changed")
    assert changed.target_id == str(desk.cases["open"].id)
    assert changed.detail == {
        "referral": desk.referrals["awaiting"].id,
        "from_user_id": bob,
        "to_user_id": alice,
    }
    page = desk.client.get("/admin/users").get_data(as_text=True)
    assert "2 open cases are now assigned to alice@example.org." in page
    assert "1 referral awaiting a reply is now owned by alice@example.org." in page
    assert "1 open case is sealed to a key alice@example.org does not hold" in page
    assert "1 referral awaiting a reply is on a case sealed to a key alice@example.org" in page
    assert "Reminders for 1 referral now go to the first admin, admin@example.org" in page


def test_deactivating_with_nobody_chosen_unassigns_the_open_cases_and_says_so(
    desk: Desk,
) -> None:
    response = deactivate(desk, confirmed="yes", successor="nobody")
    assert response.status_code == 302
    bob = desk.bob.id
    assert holders(desk) == {
        "open": None,
        "also_open": None,
        "other_key": None,
        "closed": bob,
        "referral:awaiting": bob,
        "referral:other_key": bob,
        "referral:withdrawn": bob,
    }
    assert not events("referral.owner_changed")
    assert {e.detail["to_user_id"] for e in events("case.assign")} == {None}
    assert len(events("case.assign")) == 3
    page = desk.client.get("/admin/users").get_data(as_text=True)
    assert "3 open cases are now unassigned" in page
    assert "Reminders for 2 referrals now go to the first admin, admin@example.org" in page
    assert "now assigned to" not in page
    # The queue's Unassigned view lists them as needing someone.
    unassigned = desk.client.get("/cases/?view=unassigned").get_data(as_text=True)
    for name in ("open", "also_open", "other_key"):
        assert desk.cases[name].ref in unassigned, name
    assert desk.cases["closed"].ref not in unassigned


@pytest.mark.parametrize(
    "choice",
    [{}, {"successor": ""}, {"successor": "   "}],
    ids=["field_missing", "placeholder", "blank"],
)
def test_without_a_choice_the_page_asks_again_and_nothing_is_written(
    desk: Desk, choice: dict[str, str]
) -> None:
    """The placeholder, a blank value or no field at all (an older page, a script posting only
    ``confirmed``) is no choice: nobody is ever assumed while they hold something."""
    before = (holders(desk), audit_count())
    response = deactivate(desk, confirmed="yes", **choice)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="successor-error">([^<]*)</p>', html)
    assert error is not None
    assert error.group(1) == "Choose who takes over their cases and referrals, or “Nobody”."
    assert 'aria-invalid="true"' in html
    assert "Deactivate the account of bob@example.org?" in html
    assert (holders(desk), audit_count()) == before
    assert db.session.get_one(User, desk.bob.id).is_active_account


def test_nobody_chosen_and_refused_for_another_reason_stays_chosen(desk: Desk) -> None:
    html = deactivate(desk, successor="nobody").get_data(as_text=True)
    assert '<option value="nobody" selected>' in html


def test_someone_who_holds_nothing_is_deactivated_without_a_choice(desk: Desk) -> None:
    response = desk.client.post(
        f"/admin/users/{desk.alice.id}/deactivate",
        data={"csrf_token": csrf_token(desk.client, "/admin/users"), "confirmed": "yes"},
    )
    assert response.status_code == 302
    assert not db.session.get_one(User, desk.alice.id).is_active_account


def test_reminders_of_a_referral_whose_case_someone_holds_go_to_them(desk: Desk) -> None:
    case = desk.cases["open"]
    case.assignee_id = desk.alice.id
    db.session.commit()
    deactivate(desk, confirmed="yes", successor="nobody")
    page = desk.client.get("/admin/users").get_data(as_text=True)
    assert "Reminders for 1 referral now go to the colleague who holds its case" in page
    assert "Reminders for 1 referral now go to the first admin" in page
    assert holders(desk)["open"] == desk.alice.id


def bad_successors(desk: Desk) -> dict[str, tuple[Any, str]]:
    gone, _ = make_staff_with_keys(Role.CASEWORKER, email="gone@example.org")
    gone.is_active_account = False
    viewer = make_user(Role.VIEWER, email="viewer@example.org")
    keyless = make_user(Role.CASEWORKER, email="keyless@example.org")
    db.session.commit()
    choose = "Choose a colleague from the list, or nobody."
    return {
        "word": ("alice", choose),
        "negative": ("-1", choose),
        "unknown": ("999999", choose),
        "too_long": ("9" * 40, choose),
        "fullwidth_digit": ("１", choose),
        "twice": ([str(desk.alice.id), str(desk.admin.id)], choose),
        "nobody_and_someone": (["nobody", str(desk.alice.id)], choose),
        "nobody_in_capitals": ("NOBODY", choose),
        "self": (str(desk.bob.id), "cannot be given back to them"),
        "deactivated": (str(gone.id), "The account of gone@example.org is deactivated"),
        "viewer": (str(viewer.id), "viewer@example.org cannot take cases"),
        "keyless": (str(keyless.id), "keyless@example.org cannot take cases"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "word",
        "negative",
        "unknown",
        "too_long",
        "fullwidth_digit",
        "twice",
        "nobody_and_someone",
        "nobody_in_capitals",
        "self",
        "deactivated",
        "viewer",
        "keyless",
    ],
)
def test_a_bad_choice_is_refused_beside_the_field_and_writes_nothing(desk: Desk, case: str) -> None:
    successor, reason = bad_successors(desk)[case]
    before = (holders(desk), audit_count())
    response = deactivate(desk, confirmed="yes", successor=successor)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="successor-error"' in html
    assert reason in html
    assert 'aria-invalid="true"' in html
    assert (holders(desk), audit_count()) == before
    assert db.session.get_one(User, desk.bob.id).is_active_account


def test_a_colleague_deactivated_after_the_page_was_shown_is_refused(desk: Desk) -> None:
    """The choice is checked again inside the deactivation's transaction."""
    from intake.services import handover

    alice = db.session.get_one(User, desk.alice.id)
    alice.is_active_account = False
    db.session.commit()
    bob = db.session.get_one(User, desk.bob.id)
    before = (holders(desk), audit_count())
    with pytest.raises(handover.HandoverError, match="deactivated"):
        handover.deactivate(bob, alice, db.session.get_one(User, desk.admin.id))
    assert (holders(desk), audit_count()) == before
    assert db.session.get_one(User, desk.bob.id).is_active_account


def test_the_admin_still_cannot_deactivate_themselves(desk: Desk) -> None:
    response = desk.client.post(
        f"/admin/users/{desk.admin.id}/deactivate",
        data={
            "csrf_token": csrf_token(desk.client, "/admin/users"),
            "confirmed": "yes",
            "successor": str(desk.alice.id),
        },
    )
    assert response.status_code == 302
    assert "You cannot deactivate your own account." in desk.client.get("/admin/users").text
    assert db.session.get_one(User, desk.admin.id).is_active_account


@pytest.mark.parametrize("successor", ["alice", "nobody"])
def test_without_a_csrf_token_nothing_moves(desk: Desk, successor: str) -> None:
    before = (holders(desk), audit_count())
    response = desk.client.post(
        f"/admin/users/{desk.bob.id}/deactivate",
        data={
            "confirmed": "yes",
            "successor": str(desk.alice.id) if successor == "alice" else successor,
        },
    )
    assert response.status_code == 400
    assert (holders(desk), audit_count()) == before


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_the_confirmation_and_what_it_says_after_are_translated(
    desk: Desk, untranslated: Untranslated, locale: str
) -> None:
    desk.client.get(f"/admin/users?lang={locale}")
    untranslated.clear()
    asked = deactivate(desk)
    assert asked.status_code == 200
    refused = deactivate(desk, confirmed="yes", successor="x")
    assert refused.status_code == 422
    unchosen = deactivate(desk, confirmed="yes", successor="")
    assert unchosen.status_code == 422
    assert not untranslated.messages, sorted(untranslated.messages)
    deactivate(desk, confirmed="yes", successor=str(desk.alice.id))
    desk.client.get("/admin/users")
    assert not untranslated.messages, sorted(untranslated.messages)


def test_a_referral_given_on_deactivation_or_on_its_page_is_audited_with_one_detail(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways an owner changes write the event's detail with referrals.owner_change_detail:
    one place says what a ``referral.owner_changed`` event holds."""
    built = referrals.owner_change_detail

    def marked(referral_id: int, from_user_id: int | None, to_user_id: int | None) -> Any:
        return {**built(referral_id, from_user_id, to_user_id), "built_by": "owner_change_detail"}

    monkeypatch.setattr(referrals, "owner_change_detail", marked)
    awaiting = desk.referrals["awaiting"].id
    assert deactivate(desk, confirmed="yes", successor=str(desk.alice.id)).status_code == 302
    referrals.change_owner(awaiting, desk.admin.id, db.session.get_one(User, desk.admin.id))
    alice, bob, admin = desk.alice.id, desk.bob.id, desk.admin.id
    assert [event.detail for event in events("referral.owner_changed")] == [
        {
            "referral": awaiting,
            "from_user_id": bob,
            "to_user_id": alice,
            "built_by": "owner_change_detail",
        },
        {
            "referral": awaiting,
            "from_user_id": alice,
            "to_user_id": admin,
            "built_by": "owner_change_detail",
        },
    ]


def change_role(desk: Desk, role: str, **data: Any) -> Any:
    form = {"csrf_token": csrf_token(desk.client, "/admin/users"), "role": role, **data}
    return desk.client.post(f"/admin/users/{desk.bob.id}/role", data=form)


def test_making_a_holder_a_viewer_asks_whom_their_cases_go_to_then_hands_them_over(
    desk: Desk,
) -> None:
    """A reviewer made a caseworker a viewer in one click: her Immediate case stayed assigned
    to her, she stayed owner of an overdue referral, and the case page said she could not open
    cases. The role change now asks, as a deactivation does, and hands over in the same
    transaction."""
    before = (holders(desk), audit_count())
    asked = change_role(desk, "viewer")
    assert asked.status_code == 200
    html = asked.get_data(as_text=True)
    assert "Make bob@example.org a viewer?" in html
    assert 'data-confirm="role"' in html
    assert "They hold 3 open cases" in html
    assert "They own 2 referrals awaiting a reply" in html
    assert '<input type="hidden" name="role" value="viewer">' in html
    assert options_of(html) == ["", str(desk.admin.id), str(desk.alice.id), "nobody"]
    db.session.expire_all()
    assert db.session.get_one(User, desk.bob.id).role is Role.CASEWORKER
    assert (holders(desk), audit_count()) == before

    # Confirmed without choosing: refused beside the choice, nothing written.
    refused = change_role(desk, "viewer", confirmed="yes")
    assert refused.status_code == 422
    assert 'id="successor-error"' in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get_one(User, desk.bob.id).role is Role.CASEWORKER
    assert (holders(desk), audit_count()) == before

    done = change_role(desk, "viewer", confirmed="yes", successor=str(desk.alice.id))
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get_one(User, desk.bob.id).role is Role.VIEWER
    held = holders(desk)
    assert held["open"] == held["also_open"] == desk.alice.id
    assert held["other_key"] is None  # sealed to a key alice does not hold: unassigned
    assert held["referral:awaiting"] == desk.alice.id
    assert held["closed"] == desk.bob.id  # closed: stays as it was
    assert [e.detail["to"] for e in events("admin.role_changed")] == ["viewer"]


def test_a_role_that_still_holds_cases_changes_at_once(desk: Desk) -> None:
    """Caseworker to admin, or a viewer who holds nothing: no question, nothing handed over."""
    before = holders(desk)
    assert change_role(desk, "admin").status_code == 302
    db.session.expire_all()
    assert db.session.get_one(User, desk.bob.id).role is Role.ADMIN
    assert holders(desk) == before
