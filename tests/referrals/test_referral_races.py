"""Two colleagues changing one referral at the same moment take turns (PostgreSQL, READ
COMMITTED, two connections). Each change locks the case's row, then the referral's, and checks
the referral as committed: the later one is refused as a stale page's, not applied on top.

Before, both read the referral before either committed: one recorded "Reply received", the
other "No reply", both passed the check, and the later write overwrote the first, with two
contradictory audit events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, Referral, ReferralKind, ReferralState, Role, UnStep, User
from intake.models import UnStepKind as Step
from intake.services import handover, referrals, un_steps
from tests.builders import give_key, make_org_key, make_user, sign_in
from tests.referrals.conftest import sent_referral, two_colleagues_at_once

pytestmark = pytest.mark.postgres

NGO = ReferralKind.NGO_REFERRAL
UN = ReferralKind.SP_URGENT_APPEAL
STALE = "someone changed it while you had it open. Nothing was changed."


@pytest.fixture
def pg(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app("postgres", WTF_CSRF_ENABLED=False, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 6})
    with app.app_context():
        yield app


MINUTE = utcnow().replace(second=0, microsecond=0)  # dates to the minute, as the forms take


def days_ago(days: int) -> datetime:
    return MINUTE - timedelta(days=days)


@dataclass(frozen=True)
class Sent:
    """A referral sent ten days ago (a UN one: its communication the same day), committed;
    its owner, and another caseworker who could own it."""

    id: int
    owner_id: int
    colleague_id: int


def sent(kind: ReferralKind) -> Sent:
    org = make_org_key()
    referral = sent_referral(kind, sent_at=days_ago(10), org=org)
    colleague = give_key(make_user(Role.CASEWORKER), org)
    made = Sent(referral.id, referral.owner_id or 0, colleague.id)
    db.session.remove()
    return made


def as_user(user_id: int, change: Callable[[User], Any]) -> Callable[[], Any]:
    return lambda: change(db.session.get_one(User, user_id))


def moving(referral: Sent, action: str, at: datetime | None = None) -> Callable[[], Any]:
    """Its owner moving it by ``action`` (``referrals.transition``)."""
    return as_user(
        referral.owner_id, lambda user: referrals.transition(referral.id, action, user, at=at).id
    )


def fresh(referral_id: int) -> Referral:
    db.session.expire_all()
    return db.session.get_one(Referral, referral_id)


def recorded(referral_id: int) -> list[str]:
    """The referral's audited changes after it was started, in order."""
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action.like("referral.%")).order_by(AuditEvent.id)
    )
    return [
        event.action
        for event in events
        if event.detail.get("referral") == referral_id and event.action != "referral.create"
    ]


@pytest.mark.parametrize("kind", [NGO, UN])
def test_a_reply_and_a_no_reply_at_once_the_later_is_refused(pg: Flask, kind: ReferralKind) -> None:
    """The generic actions (a UN referral's become its steps): the later is refused with the
    state the first left, and only the first is recorded."""
    referral = sent(kind)
    before = recorded(referral.id)
    replied, refused = two_colleagues_at_once(
        pg, moving(referral, "reply"), moving(referral, "no_reply")
    )
    assert replied == referral.id
    assert isinstance(refused, referrals.ReferralError), refused
    assert refused.status == 409
    assert str(refused) == f"This referral is now “Replied”: {STALE}"
    assert fresh(referral.id).state == ReferralState.REPLIED
    added = recorded(referral.id)[len(before) :]
    assert "referral.reply" in added
    assert "referral.no_reply" not in added


def test_two_un_steps_at_once_the_later_is_refused(pg: Flask) -> None:
    """Recorded as UN steps directly (the step forms): one reply step, not a reply and a
    "no reply" one."""
    referral = sent(UN)
    made, refused = two_colleagues_at_once(
        pg,
        as_user(
            referral.owner_id,
            lambda user: un_steps.record(referral.id, Step.REPLY_RECEIVED, user).id,
        ),
        as_user(
            referral.owner_id, lambda user: un_steps.record(referral.id, Step.NO_REPLY, user).id
        ),
    )
    assert isinstance(made, int), made
    assert isinstance(refused, un_steps.StepRejected), refused
    kinds = db.session.scalars(
        sa.select(UnStep.kind).where(UnStep.referral_id == referral.id).order_by(UnStep.id)
    ).all()
    assert kinds[-1] == Step.REPLY_RECEIVED
    assert Step.NO_REPLY not in kinds
    assert fresh(referral.id).state == ReferralState.REPLIED


def test_the_later_colleagues_page_is_refused_aloud_not_a_500(pg: Flask) -> None:
    """The same through the page: the second colleague's "No reply" comes back with the
    message, as a stale page's: a conflict, 409 (it was 422, as for a form that could not be
    carried out)."""
    referral = sent(NGO)
    client = pg.test_client()
    colleague = sign_in(client, Role.CASEWORKER).id
    db.session.remove()

    def post_no_reply() -> tuple[int, str]:
        response = client.post(f"/referrals/{referral.id}/transition", data={"action": "no_reply"})
        return response.status_code, response.get_data(as_text=True)

    _, (status, page) = two_colleagues_at_once(
        pg,
        as_user(colleague, lambda user: referrals.transition(referral.id, "reply", user).id),
        post_no_reply,
    )
    assert status == 409
    assert f"This referral is now “Replied”: {STALE}" in page
    assert fresh(referral.id).state == ReferralState.REPLIED


def test_an_owner_change_at_the_moment_of_the_reply_is_refused(pg: Flask) -> None:
    """Only a referral awaiting a reply is given to someone else (with its reminders): the
    change read "sent", and gave a replied one away."""
    referral = sent(NGO)
    other = referral.colleague_id
    _, refused = two_colleagues_at_once(
        pg,
        moving(referral, "reply"),
        as_user(
            referral.owner_id, lambda user: referrals.change_owner(referral.id, other, user).id
        ),
    )
    assert isinstance(refused, referrals.ReferralError), refused
    assert "still awaits a reply" in str(refused)
    assert fresh(referral.id).owner_id == referral.owner_id


def test_a_date_corrected_at_the_moment_of_the_reply_keeps_the_order(pg: Flask) -> None:
    """ "Sent" moved after a reply recorded at the same moment: the correction read no reply
    yet. Now it reads the reply's date, and is refused beside it."""
    referral = sent(NGO)
    _, refused = two_colleagues_at_once(
        pg,
        moving(referral, "reply", at=days_ago(5)),
        as_user(
            referral.owner_id,
            lambda user: referrals.correct_date(referral.id, "sent", days_ago(3), user),
        ),
    )
    assert isinstance(refused, referrals.ReferralError), refused
    assert "after the step after it" in str(refused)
    kept = fresh(referral.id)
    assert (kept.sent_at, kept.replied_at) == (days_ago(10), days_ago(5))


def test_a_un_step_corrected_at_the_moment_of_the_reply_keeps_the_order(pg: Flask) -> None:
    """The communication moved after a reply recorded at the same moment."""
    referral = sent(UN)
    communication = db.session.scalars(
        sa.select(UnStep.id).where(
            UnStep.referral_id == referral.id, UnStep.kind == Step.COMMUNICATION_SENT
        )
    ).one()
    db.session.remove()
    _, refused = two_colleagues_at_once(
        pg,
        as_user(
            referral.owner_id,
            lambda user: un_steps.record(referral.id, Step.REPLY_RECEIVED, user, at=days_ago(5)).id,
        ),
        as_user(
            referral.owner_id,
            lambda user: un_steps.correct(referral.id, communication, days_ago(3), user),
        ),
    )
    assert isinstance(refused, un_steps.StepRejected), refused
    assert "after a later step" in str(refused)
    assert db.session.get_one(UnStep, communication).happened_at == days_ago(10)


def test_a_deactivation_and_a_colleagues_reply_at_once_both_land(pg: Flask) -> None:
    """An admin deactivates the referral's owner while a colleague records its reply. The
    deactivation audited first, then waited for the case the colleague had locked, while the
    colleague's audit waited for the chain the deactivation held: PostgreSQL ended the
    deadlock by failing one of them, a 500. The hand-over now locks the rows it changes first,
    as every other change does."""
    referral = sent(NGO)
    admin_id = make_user(Role.ADMIN).id
    db.session.remove()

    def deactivating() -> Any:
        admin = db.session.get_one(User, admin_id)
        successor = db.session.get_one(User, referral.colleague_id)  # the referral goes to them
        return handover.deactivate(db.session.get_one(User, referral.owner_id), successor, admin)

    replying = as_user(
        referral.colleague_id,
        lambda user: referrals.transition(referral.id, "reply", user).id,
    )
    handed, replied = two_colleagues_at_once(pg, deactivating, replying)
    assert isinstance(handed, handover.Handover), handed
    assert replied == referral.id, replied
    assert fresh(referral.id).state == ReferralState.REPLIED
    assert fresh(referral.id).owner_id == referral.colleague_id
    assert db.session.get_one(User, referral.owner_id).is_active_account is False
