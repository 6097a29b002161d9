"""A referral's owner can be changed on its page (POST /referrals/<id>/owner), to a colleague
who can open its case, as a new referral's owner is chosen; a deactivated owner is marked, and
the page says whom its reminders go to meanwhile. A deactivated case holder is said as such."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import AuditEvent, Case, Referral, ReferralState, Role, User
from intake.services import casework, referrals
from tests.auth.helpers import csrf_token
from tests.builders import OrgKeyPair, give_key, make_org_key, make_user, sign_in
from tests.conftest import Untranslated
from tests.referrals.conftest import sent_referral


@dataclass
class Desk:
    client: FlaskClient
    me: User
    owner: User
    alice: User
    org: OrgKeyPair
    referral: Referral


@pytest.fixture
def desk(any_app: Flask) -> Desk:
    org = make_org_key()
    owner = give_key(make_user(Role.CASEWORKER, email="bob@example.org"), org)
    referral = sent_referral(owner=owner, org=org)
    alice = give_key(make_user(Role.CASEWORKER, email="alice@example.org"), org)
    client = any_app.test_client()
    me = give_key(sign_in(client, make_user(Role.CASEWORKER, email="me@example.org")), org)
    return Desk(client, me, owner, alice, org, referral)


def page_of(desk: Desk) -> str:
    return f"/referrals/{desk.referral.id}"


def give(desk: Desk, owner_id: Any, *, token: str | None = None) -> Any:
    """Post the owner form; ``token`` fetched beforehand keeps the page's view (audited) out
    of what a test counts."""
    data: dict[str, Any] = {"owner_id": owner_id}
    data["csrf_token"] = token if token is not None else csrf_token(desk.client, page_of(desk))
    return desk.client.post(f"/referrals/{desk.referral.id}/owner", data=data)


def owner_id(desk: Desk) -> int | None:
    db.session.expire_all()
    return db.session.get_one(Referral, desk.referral.id).owner_id


def changes() -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "referral.owner_changed")
        )
    )


def audit_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0)


def test_a_caseworker_gives_the_referral_to_a_colleague_and_it_is_audited(desk: Desk) -> None:
    page = desk.client.get(page_of(desk)).get_data(as_text=True)
    assert "data-owner-form" in page
    assert f'<option selected value="{desk.owner.id}">' in page
    response = give(desk, desk.alice.id)
    assert response.status_code == 303
    assert owner_id(desk) == desk.alice.id
    [event] = changes()
    assert event.actor_id == desk.me.id
    assert event.target_id == str(desk.referral.case_id)
    assert event.detail == {
        "referral": desk.referral.id,
        "from_user_id": desk.owner.id,
        "to_user_id": desk.alice.id,
    }
    after = desk.client.get(page_of(desk)).get_data(as_text=True)
    assert "The referral now belongs to alice@example.org" in after
    # The same owner again changes nothing and records nothing.
    assert give(desk, desk.alice.id).status_code == 303
    assert len(changes()) == 1


def bad_owners(desk: Desk) -> dict[str, tuple[Any, str]]:
    keyless = make_user(Role.CASEWORKER, email="keyless@example.org")
    other_key = give_key(make_user(Role.CASEWORKER, email="other@example.org"), make_org_key())
    unconfirmed = give_key(make_user(Role.CASEWORKER, email="unconfirmed@example.org"), desk.org)
    unconfirmed.totp_confirmed_at = None
    gone = give_key(make_user(Role.CASEWORKER, email="gone@example.org"), desk.org)
    gone.is_active_account = False
    viewer = give_key(make_user(Role.VIEWER, email="viewer@example.org"), desk.org)
    db.session.commit()
    choose = "Choose a colleague from the list."
    not_staff = "The owner must be an active caseworker or admin."
    return {
        "keyless": (keyless.id, "keyless@example.org cannot open this case yet"),
        "other_key": (other_key.id, "other@example.org cannot open this case yet"),
        "unconfirmed": (unconfirmed.id, "unconfirmed@example.org cannot open this case yet"),
        "deactivated": (gone.id, not_staff),
        "viewer": (viewer.id, not_staff),
        "unknown": (99999999, not_staff),
        "empty": ("", choose),
        "word": ("alice", choose),
        "negative": ("-3", choose),
        "huge": ("9" * 40, choose),
        "fullwidth_digit": ("３", choose),
    }


@pytest.mark.parametrize(
    "who",
    [
        "keyless",
        "other_key",
        "unconfirmed",
        "deactivated",
        "viewer",
        "unknown",
        "empty",
        "word",
        "negative",
        "huge",
        "fullwidth_digit",
    ],
)
def test_someone_who_cannot_act_is_refused_beside_the_field(desk: Desk, who: str) -> None:
    person, reason = bad_owners(desk)[who]
    token = csrf_token(desk.client, page_of(desk))
    before = audit_count()
    response = give(desk, person, token=token)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html.split("data-owner-error>", 1)[1].split("</p>", 1)[0]
    assert reason in error
    assert 'aria-describedby="owner-error"' in html
    assert owner_id(desk) == desk.owner.id
    assert audit_count() == before


def test_the_list_offers_only_those_who_can_act(desk: Desk) -> None:
    bad_owners(desk)
    page = desk.client.get(page_of(desk)).get_data(as_text=True)
    form = page.split("data-owner-form", 1)[1].split("</form>", 1)[0]
    offered = {u.email for u in casework.assignable_users(desk.org.key.id)}
    assert offered == {"alice@example.org", "bob@example.org", "me@example.org"}
    for email in offered:
        assert email in form
    for email in ("keyless", "other@", "unconfirmed", "gone", "viewer"):
        assert email not in form


def test_without_a_csrf_token_nothing_changes(desk: Desk) -> None:
    before = audit_count()
    response = desk.client.post(
        f"/referrals/{desk.referral.id}/owner", data={"owner_id": desk.alice.id}
    )
    assert response.status_code == 400
    assert owner_id(desk) == desk.owner.id
    assert audit_count() == before


def test_a_viewer_is_refused(any_app: Flask, desk: Desk) -> None:
    viewer = any_app.test_client()
    sign_in(viewer, Role.VIEWER)
    page = viewer.get(page_of(desk)).get_data(as_text=True)
    assert "data-owner-form" not in page
    token = csrf_token(viewer, page_of(desk))
    response = viewer.post(
        f"/referrals/{desk.referral.id}/owner",
        data={"owner_id": desk.alice.id, "csrf_token": token},
    )
    assert response.status_code == 403
    assert owner_id(desk) == desk.owner.id


def test_an_unknown_referral_is_not_found(desk: Desk) -> None:
    token = csrf_token(desk.client, page_of(desk))
    for referral_id in ("99999999", "99999999999999999999"):
        response = desk.client.post(
            f"/referrals/{referral_id}/owner", data={"owner_id": desk.alice.id, "csrf_token": token}
        )
        assert response.status_code == 404


def test_a_referral_no_longer_awaiting_a_reply_keeps_its_owner(desk: Desk) -> None:
    referrals.transition(desk.referral.id, "withdraw", desk.me)
    page = desk.client.get(page_of(desk)).get_data(as_text=True)
    assert "data-owner-form" not in page
    response = give(desk, desk.alice.id)
    assert response.status_code == 409
    assert "still awaits a reply" in response.get_data(as_text=True)
    assert db.session.get_one(Referral, desk.referral.id).state is ReferralState.WITHDRAWN
    assert owner_id(desk) == desk.owner.id


def test_a_deactivated_owner_is_marked_and_the_page_says_who_is_reminded(desk: Desk) -> None:
    page = desk.client.get(page_of(desk)).get_data(as_text=True)
    assert "data-owner-deactivated" not in page
    owner = db.session.get_one(User, desk.owner.id)
    owner.is_active_account = False
    db.session.commit()
    page = desk.client.get(page_of(desk)).get_data(as_text=True)
    assert "bob@example.org" in page
    assert "(account deactivated)" in page
    # No case holder, so the first admin; none here, so nobody is named.
    admin = give_key(make_user(Role.ADMIN, email="admin@example.org"), desk.org)
    page = desk.client.get(page_of(desk)).get_data(as_text=True)
    assert "Until someone takes it over, its reminders go to admin@example.org." in page
    # Nobody is preset: bob is no longer someone it can be given to.
    form = page.split("data-owner-form", 1)[1].split("</form>", 1)[0]
    assert '<option selected value="">' in form
    assert "bob@example.org" not in form
    assert give(desk, admin.id).status_code == 303
    assert "(account deactivated)" not in desk.client.get(page_of(desk)).get_data(as_text=True)


def test_the_case_page_says_a_deactivated_holder_is_deactivated(desk: Desk) -> None:
    case = db.session.get_one(Case, desk.referral.case_id)
    case.assignee_id = desk.owner.id
    db.session.commit()
    page = desk.client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "account deactivated" not in page
    owner = db.session.get_one(User, desk.owner.id)
    owner.is_active_account = False
    db.session.commit()
    page = desk.client.get(f"/cases/{case.ref}").get_data(as_text=True)
    # In the words and form of the queue and the referral list.
    assert (
        '<span class="badge badge-overdue" data-assignee-deactivated>(account deactivated)</span>'
        in page
    )
    assert "— " not in page.split("data-assignee>", 1)[1].split("</dd>", 1)[0]
    assert "cannot open cases yet" not in page
    for locale, said in (("zh_Hant", "（帳號已停用）"), ("zh_Hans", "（账号已停用）")):
        page = desk.client.get(f"/cases/{case.ref}?lang={locale}").get_data(as_text=True)
        assert f"data-assignee-deactivated>{said}</span>" in page


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_what_these_pages_say_is_translated(
    desk: Desk, untranslated: Untranslated, locale: str
) -> None:
    case = db.session.get_one(Case, desk.referral.case_id)
    case.assignee_id = desk.owner.id
    owner = db.session.get_one(User, desk.owner.id)
    owner.is_active_account = False
    give_key(make_user(Role.ADMIN, email="admin@example.org"), desk.org)
    db.session.commit()
    desk.client.get(f"/cases/?lang={locale}")
    untranslated.clear()
    assert desk.client.get(page_of(desk)).status_code == 200
    assert desk.client.get(f"/cases/{case.ref}").status_code == 200
    assert give(desk, "x").status_code == 422
    assert give(desk, desk.alice.id).status_code == 303
    assert desk.client.get(page_of(desk)).status_code == 200
    assert not untranslated.messages, sorted(untranslated.messages)


def test_an_owner_sent_twice_is_refused_not_read_as_the_first(desk: Desk) -> None:
    """The handover on deactivation refuses a repeated field; the owner form took the first
    value of ``owner_id=alice&owner_id=someone``. Both now ask for one choice."""
    token = csrf_token(desk.client, page_of(desk))
    before = audit_count()
    response = give(desk, [desk.alice.id, desk.me.id], token=token)
    assert response.status_code == 422
    assert "Choose a colleague from the list." in response.get_data(as_text=True)
    assert owner_id(desk) == desk.owner.id
    assert audit_count() == before


def test_giving_it_to_its_own_owner_says_so_and_writes_nothing(desk: Desk) -> None:
    """Reviewer: the list shows the owner chosen, and pressing "Change owner" said "The referral
    now belongs to …" though nothing had changed."""
    token = csrf_token(desk.client, page_of(desk))
    before = audit_count()
    response = give(desk, desk.owner.id, token=token)
    assert response.status_code == 303
    assert owner_id(desk) == desk.owner.id
    assert audit_count() == before
    page = desk.client.get(page_of(desk)).get_data(as_text=True)
    assert "The referral already belongs to bob@example.org." in page
    assert "now belongs to" not in page


def owner_cell(html: str, referral: Referral) -> str:
    row = re.search(
        rf'href="/referrals/{referral.id}"[^>]*>.*?<td class="cell-owner"[^>]*>(.*?)</td>',
        html,
        re.S,
    )
    assert row is not None, "the referral is not listed"
    return row.group(1)


def test_the_referral_list_marks_an_owner_whose_account_is_deactivated(desk: Desk) -> None:
    listed = desk.client.get("/referrals/?view=all").get_data(as_text=True)
    assert "bob@example.org" in owner_cell(listed, desk.referral)
    assert "data-owner-deactivated" not in listed
    owner = db.session.get_one(User, desk.owner.id)
    owner.is_active_account = False
    db.session.commit()
    listed = desk.client.get("/referrals/?view=all").get_data(as_text=True)
    cell = owner_cell(listed, desk.referral)
    assert "bob@example.org" in cell
    assert (
        '<span class="badge badge-overdue" data-owner-deactivated>(account deactivated)</span>'
        in cell
    )
    chinese = desk.client.get("/referrals/?view=all&lang=zh_Hant").get_data(as_text=True)
    assert "（帳號已停用）" in owner_cell(chinese, desk.referral)
    # Given to an active colleague, the mark goes.
    assert give(desk, desk.alice.id).status_code == 303
    listed = desk.client.get("/referrals/?view=all&lang=en").get_data(as_text=True)
    assert "alice@example.org" in owner_cell(listed, desk.referral)
    assert "data-owner-deactivated" not in listed
